"""Helpers of the distributed-lock tests: a Redis server, "machines" as subprocesses."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support import free_port, redis_server_args

HERE = Path(__file__).parent


@contextmanager
def redis_server(directory: Path) -> Iterator[str]:
    """A real redis-server on a free loopback port in ``directory``; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        import pytest

        pytest.skip("redis-server is not installed (apt-get install -y redis-server)")
    port = free_port()
    proc = subprocess.Popen(
        redis_server_args(binary, port, directory),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    import redis

    client = redis.Redis(host="127.0.0.1", port=port)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert proc.poll() is None, "redis-server exited"
                assert time.monotonic() < deadline, "redis-server did not answer"
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=30)


def machine_env(home: Path, sim: Any, prefect_api: str, **extra: str) -> dict[str, str]:
    """The environment of one "machine": its own PREFECT_HOME, result storage and locks."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "HAOEE_"))}
    env.update(
        {
            "PREFECT_HOME": str(home),
            "PREFECT_API_URL": prefect_api,
            "PREFECT_LOCAL_STORAGE_PATH": str(home / "results"),
            "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(home / "results"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "HAOEE_LOCK_DIR": str(home / "locks"),
            "HAOEE_BASE_URL": sim.base_url,
            "HAOEE_API_KEY": sim.config.api_keys[0],
            "HAOEE_BACKOFF_BASE": "0.05",
            "HAOEE_BACKOFF_MAX": "0.2",
            "PYTHONPATH": str(HERE.parents[1]),
            **extra,
        }
    )
    return env


def start_machine(env: dict[str, str], endpoint: str, bucket: str, prefix: str, count: int) -> Any:
    return subprocess.Popen(
        [sys.executable, str(HERE / "machine_script.py"), endpoint, bucket, prefix, str(count)],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def release_together(machines: list[Any]) -> list[tuple[str, str]]:
    """Wait until every machine has imported everything, start them at once, collect output."""
    for machine in machines:
        line = machine.stdout.readline()
        assert line.strip() == "ready", (line, machine.stderr.read()[-4000:])
    for machine in machines:
        machine.stdin.write("go\n")
        machine.stdin.flush()
    return [machine.communicate(timeout=500) for machine in machines]


def start_holder(script: str, *args: str) -> subprocess.Popen[str]:
    """A "machine" that takes a claim in ``script`` (Python source) and renews it until
    killed; returns once it printed ``held``."""
    import textwrap

    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    if holder.stdout.readline().strip() != "held":
        holder.kill()
        holder.wait(timeout=30)
        raise AssertionError("the holder did not take its claim")
    return holder
