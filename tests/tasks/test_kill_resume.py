"""A process SIGKILLed after its submits, then rerun: no second billable call."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from prefect_haoee.simulator.config import SimulatorConfig
from prefect_haoee.simulator.server import run_simulator
from tests.tasks.produce_support import async_request, produce_all, records

pytestmark = pytest.mark.integration

HERE = Path(__file__).parent
COUNT = 6


def committed_submits(bucket: Any) -> int:
    """Done submit entries in the bucket's ledger (``tasks.ledger_s3``)."""
    s3 = bucket.credentials.get_s3_client()
    listed = s3.list_objects_v2(Bucket=bucket.bucket_name, Prefix=".haoee-ledger/haoee-submit-")
    done = 0
    for item in listed.get("Contents", []):
        body = s3.get_object(Bucket=bucket.bucket_name, Key=item["Key"])["Body"].read()
        done += b'"state": "done"' in body
    return done


def test_sigkill_after_submit_then_rerun_pays_nothing_more(
    prefect_server: str,
    state_dir: Path,
    simulator: Any,
    s3_server: str,
    s3_bucket: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    storage = state_dir / "results"
    before = committed_submits(s3_bucket)
    config = SimulatorConfig(
        api_keys=simulator.config.api_keys,
        latency_ms=5,
        async_latency_ms=60_000,  # tasks stay in_queue/generating while we kill the process
        latency_sigma=0.0,
        seed=5,
    )
    with run_simulator(config) as sim:
        env = {
            **os.environ,
            "HAOEE_BASE_URL": sim.base_url,
            "HAOEE_API_KEY": simulator.config.api_keys[0],
            "PREFECT_API_URL": prefect_server,
            "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(storage),
            "PYTHONPATH": str(HERE.parents[1]),
        }
        proc = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "produce_script.py"),
                s3_server,
                s3_bucket.bucket_name,
                "t/kill",
                str(COUNT),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            # Wait (bounded) for the external process to commit every submit.
            deadline = time.monotonic() + 120
            while committed_submits(s3_bucket) - before < COUNT:
                assert proc.poll() is None, proc.stdout.read().decode()[-3000:]  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "submits were not committed in time"
                time.sleep(0.1)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        assert sim.stats()["billable_generations"] == COUNT

        # The tasks finish on the gateway while nobody is watching; then we rerun.
        sim.advance_clock(120)
        monkeypatch.setenv("HAOEE_BASE_URL", sim.base_url)
        monkeypatch.setenv("HAOEE_API_KEY", simulator.config.api_keys[0])
        requests = [async_request(500 + i) for i in range(COUNT)]
        done = records(asyncio.run(produce_all(requests, s3_bucket, "t/kill")))
        stats = sim.stats()
    assert len(done) == COUNT
    assert all(r.cost_units == 0 and r.source == "resumed" for r in done)
    assert stats["billable_generations"] == COUNT  # no second payment for any item
    assert stats["duplicates"] == 0
    assert stats["calls_by_action"]["CVSync2AsyncSubmitTask"] == COUNT
