"""``haoee`` as a user starts it: a child process, the environment it gets, its run.

What a child may inherit decides which environment a test builds:

* ``session_env``: this process's environment plus the session's Prefect server, result
  storage and lock directory, a simulator and the moto S3 server: the child shares the
  session's state, as a second terminal on the same machine would.
* ``clean_env``: nothing of the caller's ``PREFECT_*``, ``HAOEE_*`` or ``AWS_*``, a Prefect
  home and a local-server port of the test's own: the child finds or starts its own Prefect.
* ``own_parts_env``: ``clean_env`` with result storage and locks of its own, pointed at a
  simulator and the moto S3 server.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support import SIM_KEY, free_port


def haoee(*args: str) -> list[str]:
    """The command line of ``haoee ARGS`` with this interpreter (the venv under test)."""
    return [sys.executable, "-m", "prefect_haoee", *args]


def run_haoee(
    *args: str, env: dict[str, str], timeout: float = 300, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``haoee ARGS`` to its end; its exit code and text output."""
    return subprocess.run(
        haoee(*args), capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout
    )


def aws_env(s3_server: str) -> dict[str, str]:
    """``AWS_*`` for the moto server at ``s3_server`` (its fixed test credentials)."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_S3": s3_server,
    }


def session_env(
    prefect_server: str, state_dir: Path, sim_url: str, s3_server: str, **extra: str
) -> dict[str, str]:
    """This process's environment, on the session's Prefect server and state."""
    return {
        **os.environ,
        "PREFECT_API_URL": prefect_server,
        "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(state_dir / "results"),
        "HAOEE_LOCK_DIR": str(state_dir / "locks"),
        "HAOEE_API_KEY": SIM_KEY,
        "HAOEE_BASE_URL": sim_url,
        **aws_env(s3_server),
        "COLUMNS": "160",
        **extra,
    }


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """No PREFECT_*, HAOEE_*, AWS_* of the caller (analytics included: the command must
    turn it off by itself), a Prefect home and a local-server port of the test's own."""
    drop = ("HAOEE_", "AWS_", "PREFECT")
    env = {key: value for key, value in os.environ.items() if not key.startswith(drop)}
    env.update(
        {
            "PREFECT_HOME": str(tmp_path / "prefect-home"),
            "PREFECT_SERVER_API_PORT": str(free_port()),
            "HAOEE_LOG_FILE": str(tmp_path / "haoee.log"),
            "COLUMNS": "160",
            **extra,
        }
    )
    return env


def own_parts_env(tmp_path: Path, sim_url: str, s3_server: str, **extra: str) -> dict[str, str]:
    """``clean_env`` with result storage and locks under ``tmp_path``, the simulator's
    key and URL, and the moto S3 server."""
    return clean_env(
        tmp_path,
        PREFECT_RESULTS_LOCAL_STORAGE_PATH=str(tmp_path / "results"),
        HAOEE_LOCK_DIR=str(tmp_path / "locks"),
        HAOEE_API_KEY=SIM_KEY,
        HAOEE_BASE_URL=sim_url,
        **aws_env(s3_server),
        **extra,
    )
