"""Shared fixtures: real parts on loopback (simulator, moto S3 server, Prefect server).

Session-scoped and lazy: a unit test that asks for none of them starts none of them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli_support import session_env
from tests.support import SIM_KEY, bucket_block

# Offline test machines: no analytics calls from the Prefect servers and clients we start.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")


@pytest.fixture(scope="session")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Result storage and lock files of this test session (never the user's ~/.prefect)."""
    return tmp_path_factory.mktemp("haoee-state")


@pytest.fixture(scope="session")
def prefect_server(state_dir: Path) -> Iterator[str]:
    """A real Prefect server (SQLite in a temp dir) for the whole session; yields its API URL."""
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_LOCAL_STORAGE_PATH,
        temporary_settings,
    )
    from prefect.testing.utilities import prefect_test_harness

    storage = state_dir / "results"
    os.environ["HAOEE_LOCK_DIR"] = str(state_dir / "locks")
    with (
        temporary_settings({PREFECT_LOCAL_STORAGE_PATH: storage}),
        prefect_test_harness(server_startup_timeout=120),
    ):
        yield str(PREFECT_API_URL.value())


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """moto's S3 server on 127.0.0.1 (port 0); yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_server: str) -> Any:
    """A fresh bucket on the moto server, as a prefect-aws ``S3Bucket`` block."""
    block = bucket_block(s3_server, f"haoee-{uuid.uuid4().hex[:12]}")
    block.credentials.get_s3_client().create_bucket(Bucket=block.bucket_name)
    return block


@pytest.fixture(scope="session")
def simulator() -> Iterator[Any]:
    """The gateway simulator on 127.0.0.1:0, fast and fault-free unless a test says otherwise."""
    from prefect_haoee.simulator.config import SimulatorConfig
    from prefect_haoee.simulator.server import run_simulator

    config = SimulatorConfig(
        api_keys=(SIM_KEY,), latency_ms=20, latency_sigma=0.0, queue_fraction=0.3, seed=7
    )
    with run_simulator(config) as handle:
        yield handle


@pytest.fixture
def sim(simulator: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The session simulator with a clean ledger, and ``HAOEE_*`` pointing at it."""
    simulator.reset(seed=7)
    monkeypatch.setenv("HAOEE_API_KEY", SIM_KEY)
    monkeypatch.setenv("HAOEE_BASE_URL", simulator.base_url)
    monkeypatch.setenv("HAOEE_BACKOFF_BASE", "0.05")
    monkeypatch.setenv("HAOEE_BACKOFF_MAX", "0.2")
    monkeypatch.setenv("HAOEE_RETRY_AFTER_MAX", "0.2")
    return simulator


@pytest.fixture
def cli_env(prefect_server: str, state_dir: Path, sim: Any, s3_server: str) -> dict[str, str]:
    """The environment of a ``haoee`` child on the session's Prefect server, state,
    simulator and S3 server (``tests.cli_support.session_env``)."""
    return session_env(prefect_server, state_dir, sim.base_url, s3_server)
