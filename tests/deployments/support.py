"""Helpers of the deployment tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.cli_support import aws_env
from tests.support import SIM_KEY

REPO = Path(__file__).resolve().parents[2]
DEPLOYMENTS = REPO / "deployments"
BIN = Path(sys.executable).parent
FLOW_NAME = "haoee-campaign"
ENTRYPOINT = "prefect_haoee.flows.campaign.run_campaign"


def prefect_env(prefect_server: str, state_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a subprocess talking to the test Prefect server (never the
    user's profile: PREFECT_HOME is the session's state dir)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PREFECT_") or key == "PREFECT_HOME"
    }
    env.update(
        {
            "PREFECT_HOME": str(state_dir / "prefect-home"),
            "PREFECT_API_URL": prefect_server,
            "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(state_dir / "results"),
            "PREFECT_LOGGING_LEVEL": "INFO",
            "HAOEE_LOCK_DIR": str(state_dir / "locks"),
            "COLUMNS": "200",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def parts_env(sim: Any, s3_server: str) -> dict[str, str]:
    """HAOEE_* and AWS_* pointing at the session's simulator and moto S3 server."""
    return {
        "HAOEE_API_KEY": SIM_KEY,
        "HAOEE_BASE_URL": sim.base_url,
        "HAOEE_BACKOFF_BASE": "0.05",
        "HAOEE_BACKOFF_MAX": "0.2",
        **aws_env(s3_server),
    }


def run(
    *args: str | Path, env: dict[str, str], cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def campaign_yaml(name: str, bucket: str, *, schedule: str = "", extra: str = "") -> str:
    """A small valid campaign file (2 images of a sync model)."""
    return f"""\
name: {name}
description: Test campaign {name}
tags: [test, {name}]
model: high_aes_general_v20_L
params: {{width: 512, height: 512}}
variants: 2
prompts:
  - id: shoe
    prompt: "a red running shoe"
output:
  bucket: {bucket}
budget:
  max_images: 4
concurrency: 2
qps: 50
{schedule}{extra}"""
