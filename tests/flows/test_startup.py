"""How ``haoee run`` gets a Prefect API on a busy machine with no PREFECT_API_URL.

Three runs started at the same moment (two campaigns, one of them twice) while a
busy-loop takes one core: each starts a temporary Prefect server (the CLI's generous
start-up timeout, one start at a time per Prefect home), all exit 0, and the gateway
ledger shows every image paid once. Then ``haoee server start`` runs one local server
that the next runs find by themselves (no temporary server, no PREFECT_API_URL).

``PREFECT_SERVER_API_PORT`` names a free port of the test's own, so a Prefect server
someone runs on 4200 is never found by mistake.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli_support import haoee, own_parts_env
from tests.support import free_port

pytestmark = pytest.mark.integration

CAMPAIGN = """
name: {name}
model: high_aes_general_v20_L
mode: sync
prompts:
{prompts}
output:
  bucket: {bucket}
concurrency: 2
"""


def run_env(tmp_path: Path, sim: Any, s3_server: str, port: int) -> dict[str, str]:
    return own_parts_env(
        tmp_path,
        sim.base_url,
        s3_server,
        PREFECT_SERVER_API_PORT=str(port),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        HAOEE_BACKOFF_BASE="0.05",
    )


def campaign(tmp_path: Path, name: str, images: int, bucket: str) -> Path:
    prompts = "\n".join(f'  - {{id: p{i}, prompt: "{name} shot {i}"}}' for i in range(images))
    path = tmp_path / f"{name}.yaml"
    path.write_text(CAMPAIGN.format(name=name, prompts=prompts, bucket=bucket))
    return path


@pytest.fixture
def busy_core() -> Iterator[None]:
    """One core taken by a busy loop for the duration of the test."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        proc.kill()
        proc.wait()


def test_three_runs_at_once_on_a_busy_machine_pay_each_image_once(
    sim: Any, s3_server: str, s3_bucket: Any, tmp_path: Path, busy_core: None
) -> None:
    env = run_env(tmp_path, sim, s3_server, free_port())
    first = campaign(tmp_path, "at-once-a", 2, s3_bucket.bucket_name)
    second = campaign(tmp_path, "at-once-b", 1, s3_bucket.bucket_name)
    logs = [tmp_path / f"run{i}.log" for i in range(3)]
    procs = []
    for path, log in zip((first, first, second), logs, strict=True):
        with log.open("w") as out:
            command = haoee("run", str(path), "--date", "2026-04-01")
            procs.append(subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT))
    started = time.monotonic()
    codes = [proc.wait(timeout=900) for proc in procs]
    print(f"three runs at once: {time.monotonic() - started:.1f} s")
    texts = [log.read_text() for log in logs]
    assert codes == [0, 0, 0], [text[-2500:] for text in texts]
    for text in texts:
        assert "Starting a temporary Prefect server" in text and "Traceback" not in text
    stats = sim.stats()
    assert stats["billable_generations"] == 3 and stats["duplicates"] == 0, stats


def test_a_local_server_is_found_and_used(
    sim: Any, s3_server: str, s3_bucket: Any, tmp_path: Path
) -> None:
    port = free_port()
    env = run_env(tmp_path, sim, s3_server, port)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(haoee(*args), env=env, capture_output=True, text=True, timeout=600)

    assert cli("server", "status").returncode == 3  # nothing there yet
    started = cli("server", "start")
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        assert f"http://127.0.0.1:{port}" in started.stdout
        assert (tmp_path / "prefect-home" / "server.pid").exists()
        status = cli("server", "status")
        assert status.returncode == 0 and "haoee run` uses it" in status.stdout
        path = campaign(tmp_path, "found-local", 1, s3_bucket.bucket_name)
        for _ in range(2):  # pays, then finds the image stored
            ran = cli("run", str(path), "--date", "2026-04-02")
            assert ran.returncode == 0, ran.stderr[-3000:]
            assert "temporary" not in ran.stderr
        assert sim.stats()["billable_generations"] == 1
    finally:
        stopped = cli("server", "stop")
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert not (tmp_path / "prefect-home" / "server.pid").exists()
    assert cli("server", "status").returncode == 3
