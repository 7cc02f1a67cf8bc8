"""``haoee demo --keep`` as a subprocess: exit code, the S3 objects and the manifest."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

pytestmark = pytest.mark.integration


def test_demo_produces_images_and_manifest(prefect_server: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_server,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "COLUMNS": "160",
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("HAOEE_API_KEY", "HAOEE_BASE_URL", "AWS_ENDPOINT_URL_S3"):
        env.pop(name, None)
    log = tmp_path / "demo.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "prefect_haoee", "demo", "--keep"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        deadline = time.monotonic() + 240
        while "stay up" not in log.read_text():
            assert proc.poll() is None, log.read_text()[-4000:]
            assert time.monotonic() < deadline, log.read_text()[-4000:]
            time.sleep(0.2)
        text = " ".join(log.read_text().split())  # rich wraps long lines
        assert "7/7 image(s)" in text and "exit 0" in text
        assert "1 answered 429" in text and "1 refused by output moderation" in text
        assert "0 paid twice" in text
        endpoint = re.search(r"S3 (http://127\.0\.0\.1:\d+)", text)
        manifest_key = re.search(r"Manifest: s3://haoee-demo/(\S+)", text)
        assert endpoint and manifest_key, text
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint.group(1),
            aws_access_key_id="demo",
            aws_secret_access_key="demo",
            region_name="us-east-1",
        )
        manifest = json.loads(
            s3.get_object(Bucket="haoee-demo", Key=manifest_key.group(1))["Body"].read()
        )
        assert manifest["total"] == 7 and manifest["done"] == 7 and manifest["failed"] == 0
        keys = {o["Key"] for o in s3.list_objects_v2(Bucket="haoee-demo")["Contents"]}
        assert {item["key"] for item in manifest["items"]} <= keys
        assert len([k for k in keys if k.endswith(".png")]) == 7
        mascot = [e for e in manifest["items"] if e["prompt_id"] == "mascot"]
        assert mascot[0]["references"][0]["source"] == "demo-mascot.png"
        assert "reference demo-mascot.png (file, via base64)" in text
        assert "haoee-demo-key" not in text  # the demo key never shows
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert proc.returncode == 0, log.read_text()[-3000:]
