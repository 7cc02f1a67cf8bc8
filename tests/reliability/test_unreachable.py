"""Prefect, S3 or the gateway not answering: one clear line and exit 3, never a traceback.

Each service in turn is a closed port on 127.0.0.1 (bound, never listened on, so nothing
else takes it during the test); the others are real (moto's S3 server, the simulator).
Nothing is paid: the checks come before the flow starts. The traceback, if any, goes to
the debug log (``HAOEE_LOG_FILE``), which the tests read back.
"""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.support import HAOEE, campaign_doc, prompt, subprocess_env, write_yaml

pytestmark = pytest.mark.reliability

EXIT_UNREACHABLE = 3


@pytest.fixture
def closed_url() -> Iterator[str]:
    """``http://127.0.0.1:PORT`` of a port bound but not listening: connections refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HAOEE, *args], env=env, capture_output=True, text=True, timeout=300)


def _campaign(tmp_path: Path, bucket: str) -> Path:
    doc = campaign_doc("unreachable", bucket, [prompt("p", "a red shoe")], concurrency=1)
    return write_yaml(tmp_path / "unreachable.yaml", doc)


def _env(tmp_path: Path, prefect: str, gateway: str, s3: str) -> dict[str, str]:
    env = subprocess_env(prefect, tmp_path / "state", gateway, s3)
    env["HAOEE_LOG_FILE"] = str(tmp_path / "haoee.log")
    return env


def _one_clear_line(done: subprocess.CompletedProcess[str], what: str) -> None:
    out = done.stdout + done.stderr
    assert done.returncode == EXIT_UNREACHABLE, out[-3000:]
    assert what in done.stderr, out[-3000:]
    assert "Traceback" not in out and 'File "' not in out, out[-3000:]


def _json_says(done: subprocess.CompletedProcess[str], what: str) -> None:
    assert done.returncode == EXIT_UNREACHABLE, done.stderr[-3000:]
    document = json.loads(done.stdout)
    assert document["ok"] is False and document["exit_code"] == EXIT_UNREACHABLE
    assert what in document["error"]


def test_prefect_api_on_a_closed_port(
    tmp_path: Path, closed_url: str, sim: Any, s3_server: str, s3_bucket: Any
) -> None:
    path = _campaign(tmp_path, s3_bucket.bucket_name)
    env = _env(tmp_path, f"{closed_url}/api", sim.base_url, s3_server)
    _one_clear_line(_run(["run", str(path)], env), f"cannot reach the Prefect API at {closed_url}")
    _json_says(_run(["run", str(path), "--json"], env), "cannot reach the Prefect API")
    assert sim.stats()["calls_total"] == 0


def test_s3_endpoint_closed(tmp_path: Path, closed_url: str, sim: Any) -> None:
    path = _campaign(tmp_path, "any-bucket")
    env = _env(tmp_path, f"{closed_url}/api", sim.base_url, closed_url)
    for command in ("plan", "run"):
        _one_clear_line(_run([command, str(path)], env), f"cannot reach S3 at {closed_url}")
        _json_says(_run([command, str(path), "--json"], env), "cannot reach S3")
    assert sim.stats()["calls_total"] == 0


def test_gateway_closed(
    tmp_path: Path, closed_url: str, s3_server: str, s3_bucket: Any, prefect_server: str
) -> None:
    path = _campaign(tmp_path, s3_bucket.bucket_name)
    env = _env(tmp_path, prefect_server, closed_url, s3_server)
    done = _run(["run", str(path)], env)
    _one_clear_line(done, f"cannot reach the gateway at {closed_url}")
    _json_says(_run(["run", str(path), "--json"], env), "cannot reach the gateway")
    assert _run(["plan", str(path)], env).returncode == 0  # planning calls no gateway


def test_a_temporary_server_that_does_not_start_in_the_users_timeout(
    tmp_path: Path, closed_url: str, sim: Any, s3_server: str, s3_bucket: Any
) -> None:
    """No API URL and no local server: the temporary one gets the user's 1 s (their
    setting wins over the CLI's default) and its failure is one line too."""
    path = _campaign(tmp_path, s3_bucket.bucket_name)
    env = _env(tmp_path, "unused", sim.base_url, s3_server)
    del env["PREFECT_API_URL"]
    env["PREFECT_HOME"] = str(tmp_path / "home")
    env["PREFECT_SERVER_API_PORT"] = closed_url.rsplit(":", 1)[1]  # no local server there
    env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "1"
    done = _run(["run", str(path)], env)
    _one_clear_line(done, "did not start within 1 s")
    assert "up to 1 s" in done.stderr  # the one line saying what is happening
    assert sim.stats()["calls_total"] == 0
