"""Every snippet in README.md is run: Python blocks execute, YAML blocks validate as
campaigns, and every ``haoee`` command line names a real command (cheap ones run)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

README = Path(__file__).resolve().parents[2] / "README.md"
EXAMPLES = README.parent / "deployments" / "campaigns"
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.S)


def blocks(language: str) -> list[str]:
    return [body for lang, body in BLOCK.findall(README.read_text()) if lang == language]


def test_readme_has_the_two_setup_commands_first() -> None:
    first, second = blocks("bash")[:2]
    assert "pip install ." in first and "haoee demo" in first
    assert second.strip() == "bash scripts/test.sh"
    ci = (README.parent / ".ci" / "run").read_text()
    assert "scripts/test.sh" in ci  # CI runs the README's test command


def test_yaml_blocks_are_valid_campaigns() -> None:
    from datetime import date

    from prefect_haoee.campaigns import expand, parse_campaign

    found = 0
    for body in blocks("yaml"):
        data = yaml.safe_load(body)
        if isinstance(data, dict) and "prompts" in data:
            # Their files (brand/mascot.png) are the example campaigns' own.
            campaign = parse_campaign(data, "README.md", EXAMPLES)
            assert expand(campaign, date(2026, 11, 27))
            found += 1
    assert found >= 1


def test_haoee_command_lines_exist() -> None:
    lines = [
        line.split("#", 1)[0].strip()
        for body in blocks("bash")
        for line in body.splitlines()
        if line.strip().startswith("haoee ")
    ]
    assert len(lines) >= 6
    for line in lines:
        argv = shlex.split(line)
        command = argv[1]
        args = [*argv[1:]] if command == "validate" else [command, "--help"]
        out = subprocess.run(
            [sys.executable, "-m", "prefect_haoee", *args],
            capture_output=True,
            text=True,
            cwd=README.parent,
            timeout=120,
        )
        assert out.returncode == 0, (line, out.stdout, out.stderr)


@pytest.mark.integration
def test_python_blocks_run(
    prefect_server: str, sim: Any, s3_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server)
    s3 = boto3.client("s3", endpoint_url=s3_server)
    if "my-images" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket="my-images")

    python_blocks = blocks("python")
    assert len(python_blocks) >= 2
    for body in python_blocks:
        namespace: dict[str, Any] = {"__name__": "readme_snippet"}
        exec(compile(body, "README.md", "exec"), namespace)
        if "one_image" in namespace:
            first = namespace["one_image"]()
            second = namespace["one_image"]()
            assert first == second and first.startswith("s3://my-images/lighthouse/")
            assert sim.stats()["billable_generations"] == 1  # the second run paid nothing

    from prefect_haoee.blocks import HaoeeCredentials

    assert HaoeeCredentials.load("haoee").base_url == "https://maas.haoee.com"
