"""The S3 server stopped mid-run and restarted on the same port: uploads retried, nothing lost.

This test owns its moto server (a free port bound first). moto keeps its buckets in a
module-global backend, so a new ``ThreadedMotoServer`` on the same port serves the same
objects: the test checks that too. Uploads that meet the dead server fail after boto3's
own retries (EndpointConnectionError), and the Prefect task retry of ``produce_image``
(S3 errors are retryable, delays 10 s then 60 s) carries them once S3 is back. Committed
paid steps are reused by the retry, so the outage costs time, never a second payment.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from prefect_haoee.simulator.config import SimulatorConfig
from prefect_haoee.simulator.server import run_simulator
from tests.reliability.support import (
    ASYNC_MODEL,
    REL_KEY,
    SYNC_MODEL,
    bucket_block,
    campaign_doc,
    client_env,
    free_port,
    list_keys,
    prompt,
    read_json,
    run_doc,
    scaled,
    scanned_bucket,
    set_env,
    wait_until,
)

pytestmark = pytest.mark.reliability

DAY = date(2026, 7, 4)
PAIRS = scaled(6, 20)  # one sync and one async prompt per pair, 2 variants each

log = logging.getLogger("reliability")


def start_moto(port: int) -> Any:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server


def s3_retries(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Task retries scheduled because S3 could not be reached."""
    return [
        r.getMessage()
        for r in list(caplog.records)
        if "Retry" in r.getMessage() and "Endpoint" in r.getMessage()
    ]


@pytest.mark.timeout(600)
def test_s3_outage_mid_run_is_retried_and_loses_nothing(
    prefect_server: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    record_logs: None,
    exposed: Any,
) -> None:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = start_moto(port)
    bucket = "rel-s3-outage"
    s3 = scanned_bucket(endpoint, bucket, exposed)
    prompts = []
    for i in range(PAIRS):
        prompts.append(prompt(f"s{i}", f"a glass vase {i}", model=SYNC_MODEL))
        prompts.append(prompt(f"a{i}", f"a paper lantern {i}", model=ASYNC_MODEL))
    doc = campaign_doc("s3-outage", bucket, prompts, variants=2, concurrency=3, qps=10)
    total = PAIRS * 2 * 2

    config = SimulatorConfig(
        api_keys=(REL_KEY,), latency_ms=300, async_latency_ms=1000, latency_sigma=0.2, seed=11
    )
    outcome: dict[str, Any] = {}
    with run_simulator(config) as sim:
        set_env(monkeypatch, client_env(sim.base_url))

        def run() -> None:
            try:
                block = bucket_block(endpoint, bucket)
                outcome["state"], outcome["result"] = run_doc(tmp_path, doc, DAY, block)
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                outcome["error"] = exc

        started = time.perf_counter()
        runner = threading.Thread(target=run, name="campaign", daemon=True)
        runner.start()
        try:

            def quarter_stored() -> list[str]:
                keys = list_keys(s3, bucket)
                return keys if len(keys) >= total // 4 else []

            stored = wait_until(quarter_stored, timeout=120, what="a quarter of the images in S3")
            billed_at_stop = sim.stats()["billable_generations"]
            server.stop()
            down_at = time.perf_counter()
            # Down until the campaign has met the dead server: a task retry on S3's account.
            wait_until(
                lambda: s3_retries(caplog), timeout=120, what="a task retry after an S3 error"
            )
            billed_while_down = sim.stats()["billable_generations"] - billed_at_stop
        finally:
            server = start_moto(port)  # the same port: the same endpoint for the campaign
        outage = time.perf_counter() - down_at
        # moto's backend is module-global: what was stored before the outage is still there.
        assert set(stored) <= set(list_keys(s3, bucket))

        runner.join(timeout=300)
        assert not runner.is_alive(), "the campaign did not finish"
        seconds = time.perf_counter() - started
        stats = sim.stats()
        ledger = sim.ledger()
    try:
        check_outcome(outcome, caplog, s3, bucket, total, stats, ledger)
        print(
            f"\ns3-outage: {total} images in {seconds:.1f}s, S3 down {outage:.1f}s "
            f"({len(stored)} stored before, {billed_while_down} billed while down)"
        )
    finally:
        server.stop()


def check_outcome(
    outcome: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    s3: Any,
    bucket: str,
    total: int,
    stats: dict[str, Any],
    ledger: list[dict[str, Any]],
) -> None:
    assert "error" not in outcome, outcome.get("error")
    state, result = outcome["state"], outcome["result"]
    retries = s3_retries(caplog)
    print(
        f"\ns3-outage: {len(retries)} task retries on S3 errors; billable "
        f"{stats['billable_generations']}, duplicates {stats['duplicates']}; first retry: "
        + retries[0][:300]
    )

    assert state.is_completed(), state.message
    assert (result.total, result.done, result.failed) == (total, total, 0)
    keys = set(list_keys(s3, bucket))
    assert {r.key for r in result.records} <= keys
    manifest = read_json(s3, bucket, result.manifest_key)
    assert (manifest["total"], manifest["done"]) == (total, total)
    assert {e["key"] for e in manifest["items"]} == {r.key for r in result.records}
    # The retried items reused their committed paid steps: one payment per image.
    assert stats["duplicates"] == 0
    assert stats["billable_generations"] == total == len({e["hash"] for e in ledger})
