"""Fixtures of the distributed suite: one "cluster" for the whole session.

PostgreSQL 15 (Debian's, run as an unprivileged user), a Prefect server on it, a real
Redis server, moto's S3 server (result storage and output buckets), the gateway
simulator with latency and a QPS cap, and two ``prefect worker start`` processes on one
process work pool, each with its own ``PREFECT_HOME`` and lock directory: two "machines"
that share only the servers.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.distributed.services import start_postgres, start_prefect_server, start_redis
from tests.distributed.support import WORKERS, Cluster
from tests.support import SIM_KEY

SIM_LATENCY_MS = 40.0
SIM_QPS = 12
"""The simulator's own cap (all callers together): above two campaigns' qps of 5 each."""


@pytest.fixture(scope="session")
def dist_root() -> Iterator[Path]:
    # Not under pytest's 0700 temp root: the PostgreSQL user must reach its own files.
    root = Path(tempfile.mkdtemp(prefix="haoee-dist-"))
    yield root
    if not os.environ.get("HAOEE_DIST_KEEP"):  # set it to read the workers' logs after
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    pg = start_postgres()
    try:
        yield pg.url
    finally:
        pg.stop()


@pytest.fixture(scope="session")
def redis_url(dist_root: Path) -> Iterator[str]:
    root = dist_root / "redis"
    root.mkdir()
    service, url = start_redis(root)
    try:
        yield url
    finally:
        service.stop()


@pytest.fixture(scope="session")
def dist_api(dist_root: Path, postgres_url: str) -> Iterator[str]:
    """A Prefect server (``prefect server start``) on PostgreSQL; yields its API URL."""
    service, api = start_prefect_server(dist_root, postgres_url)
    try:
        yield api
    finally:
        service.stop()


@pytest.fixture(scope="session")
def dist_sim() -> Iterator[Any]:
    from prefect_haoee.simulator.config import SimulatorConfig
    from prefect_haoee.simulator.server import run_simulator

    config = SimulatorConfig(
        api_keys=(SIM_KEY,),
        latency_ms=SIM_LATENCY_MS,
        latency_sigma=0.2,
        queue_fraction=0.3,
        qps=SIM_QPS,
        seed=15,
    )
    with run_simulator(config) as handle:
        yield handle


@pytest.fixture(scope="session")
def cluster(
    dist_root: Path, dist_api: str, redis_url: str, s3_server: str, dist_sim: Any
) -> Iterator[Cluster]:
    """Two process workers on one pool, sharing the servers (not their homes or locks)."""
    cluster = Cluster.create(dist_root, dist_api, redis_url, s3_server, dist_sim)
    try:
        for name in WORKERS:
            cluster.start_worker(name)
        cluster.wait_workers_online()
        yield cluster
    finally:
        for worker in cluster.workers.values():
            worker.stop()


@pytest.fixture
def fresh(cluster: Cluster) -> Iterator[Cluster]:
    """The cluster with a clean simulator ledger, an empty output bucket and no committed
    steps or locks of earlier scenarios."""
    cluster.sim.reset(seed=15)
    cluster.new_output_bucket(f"out-{uuid.uuid4().hex[:10]}")
    cluster.forget_committed_steps(f"results-{uuid.uuid4().hex[:10]}")
    yield cluster
    failed = [n for n, w in cluster.workers.items() if not w.alive() and n in cluster.must_live]
    if failed:
        details = "\n".join(cluster.workers[n].tail() for n in failed)
        raise AssertionError(f"workers died: {failed}\n{details}")
