"""``haoee demo`` as a subprocess: exit code, the S3 objects, the manifest, its UI link.

Waits are generous (a loaded 2-core machine starts a Prefect server in 30-60 s) and
awaited: the demo's output is read line by line until it says what the test waits for,
and every process of the demo is waited for after Ctrl-C.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import boto3
import httpx
import pytest

from tests.commands.processes import started
from tests.support import free_port

pytestmark = pytest.mark.integration

STARTUP_S = 420
STOPPED_WITHIN_S = 5.0


def demo_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "HAOEE_LOG_FILE": str(tmp_path / "haoee.log"),
        "COLUMNS": "160",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }
    for name in ("HAOEE_API_KEY", "HAOEE_BASE_URL", "AWS_ENDPOINT_URL_S3", "HAOEE_LOCK_DIR"):
        env.pop(name, None)
    for name in ("PREFECT_RESULTS_LOCAL_STORAGE_PATH", "PREFECT_LOCAL_STORAGE_PATH"):
        env.pop(name, None)
    return env


def test_demo_twice_in_one_prefect_home(prefect_server: str, tmp_path: Path) -> None:
    """The second demo must not find the first one's committed answers (which point at
    the first demo's simulator, gone): all its state lives in its own temporary home."""
    env = demo_env(tmp_path, PREFECT_API_URL=prefect_server)
    for attempt in range(2):
        done = subprocess.run(
            [sys.executable, "-m", "prefect_haoee", "demo"],
            env=env,
            capture_output=True,
            text=True,
            timeout=STARTUP_S,
        )
        text = " ".join(done.stdout.split())
        assert done.returncode == 0, (attempt, done.stdout[-3000:], done.stderr[-3000:])
        assert "7/7 image(s)" in text and "0 paid twice" in text, text[-2000:]
        assert "aws --endpoint-url" not in text  # its S3 server stopped with it
    assert not (tmp_path / "prefect-home" / "storage").exists()  # nothing left in the home


def test_demo_keep_serves_a_ui_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    """No PREFECT_API_URL and no local server: --keep starts a Prefect server with its UI,
    prints a flow-run link that answers, and a terminal's Ctrl-C stops everything: no
    process of the demo's (its Prefect server included) is alive 5 s later.

    The demo is started as from a terminal whatever started pytest: with SIGINT ignored
    (``nohup pytest ... &`` from a script) the demo must restore it by itself."""
    env = demo_env(tmp_path, PREFECT_SERVER_API_PORT=str(free_port()))
    env.pop("PREFECT_API_URL", None)
    command_line = [sys.executable, "-m", "prefect_haoee", "demo", "--keep"]
    with started(command_line, env, "terminal") as demo:
        text = " ".join(demo.wait_for("stay up", STARTUP_S).split())  # rich wraps long lines
        assert "7/7 image(s)" in text and "exit 0" in text
        assert "1 answered 429 and was retried" in text and "1 refused by output moderation" in text
        assert "0 paid twice" in text
        assert "Traceback" not in text and "werkzeug" not in text and " | INFO " not in text
        link = re.search(r"Prefect UI: (http://127\.0\.0\.1:\d+/v2/runs/flow-run/\S+)", text)
        assert link, text
        browser = {"Accept": "text/html,application/xhtml+xml"}  # as a browser navigates
        page = httpx.get(link.group(1), headers=browser, timeout=60, follow_redirects=True)
        assert page.status_code == 200 and "<html" in page.text.lower()
        ui = link.group(1).split("/v2/")[0]
        settings = httpx.get(f"{ui}/ui-settings", timeout=60).json()
        assert settings["api_url"] == f"{ui}/api", settings  # the UI talks to this server
        endpoint = re.search(r"S3 (http://127\.0\.0\.1:\d+)", text)
        manifest_key = re.search(r"Manifest: s3://haoee-demo/(\S+)", text)
        assert endpoint and manifest_key, text
        source = f"s3://haoee-demo/{manifest_key.group(1)}"
        assert f"aws --endpoint-url {endpoint.group(1)} s3 cp {source} -" in text  # S3 is up
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
        assert demo.others(), "no Prefect server of the demo's own"
        demo.ctrl_c()
        left = demo.survivors(within=STOPPED_WITHIN_S)
        assert not left, f"alive {STOPPED_WITHIN_S:.0f} s after Ctrl-C: {left}"
        code = demo.wait(timeout=STOPPED_WITHIN_S)
    assert code == 0 and "stopping" in demo.output(), demo.output()[-3000:]


def test_demo_without_moto_says_which_extra_to_install(tmp_path: Path) -> None:
    blocker = tmp_path / "no-moto" / "moto"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('moto is not installed')\n")
    path = os.pathsep.join(filter(None, [str(blocker.parent), os.environ.get("PYTHONPATH")]))
    env = demo_env(tmp_path, PYTHONPATH=path)
    done = subprocess.run(
        [sys.executable, "-m", "prefect_haoee", "demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "prefect-haoee[demo]" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
