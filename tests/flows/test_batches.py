"""How a campaign maps onto Prefect task runs: batches, and what each image still gets."""

from __future__ import annotations

import asyncio
import json
import pickle
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

from prefect_haoee.flows import run_campaign
from prefect_haoee.flows.batch import BATCH_MIN, MAX_BATCHES, PER_ITEM_MAX, Batch, batch_size


def test_batch_sizes_bound_the_task_runs_of_any_campaign(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HAOEE_BATCH_SIZE", raising=False)
    assert batch_size(1) == batch_size(PER_ITEM_MAX) == 1
    assert batch_size(PER_ITEM_MAX + 1) == BATCH_MIN
    assert batch_size(1000) == BATCH_MIN  # the default benchmark is batched: 20 runs
    for total in (10_001, 50_000, 250_000):
        assert -(-total // batch_size(total)) <= MAX_BATCHES
    monkeypatch.setenv("HAOEE_BATCH_SIZE", "7")
    assert batch_size(50_000) == 7


def _campaign(path: Path, bucket: str, name: str, variants: int) -> Path:
    path.write_text(
        f"""
name: {name}
model: high_aes_general_v20_L
variants: {variants}
prompts:
  - id: shoe
    prompt: "a red running shoe"
output:
  bucket: {bucket}
concurrency: 2
qps: 50
"""
    )
    return path


async def _task_runs(flow_run_id: Any, expected: int) -> list[Any]:
    """The run's task runs, once the server has written ``expected`` (events are async)."""
    ids = FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
    async with get_client() as client:
        for _ in range(100):
            runs = list(await client.read_task_runs(flow_run_filter=ids))
            if len(runs) >= expected and all(r.state and r.state.is_final() for r in runs):
                return runs
            await asyncio.sleep(0.1)
    return runs


pytestmark = pytest.mark.integration


def test_batched_items_keep_their_facts_in_result_manifest_and_table(
    prefect_server: str, sim: Any, s3_bucket: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HAOEE_BATCH_SIZE", "2")
    path = _campaign(tmp_path / "b.yaml", s3_bucket.bucket_name, "batched", 5)
    state = asyncio.run(run_campaign(str(path), bucket=s3_bucket, return_state=True))
    result = state.result()
    assert result.done == 5 and result.paid_calls == 5
    assert sim.stats()["billable_generations"] == 5
    runs = asyncio.run(_task_runs(state.state_details.flow_run_id, 3))
    assert len(runs) == 3  # batches of 2 + 2 + 1 items, a batch of one named as its item
    assert sorted(r.name for r in runs)[:2] == [
        "batch-0-shoe-v0..shoe-v1-2",
        "batch-1-shoe-v2..shoe-v3-2",
    ]
    assert sorted(r.name for r in runs)[2].startswith("shoe-v4-")
    assert all(r.state.is_completed() for r in runs)
    client = s3_bucket.credentials.get_s3_client()
    body = client.get_object(Bucket=s3_bucket.bucket_name, Key=result.manifest_key)["Body"]
    manifest = json.loads(body.read())
    assert manifest["total"] == manifest["done"] == 5
    assert sorted(e["variant"] for e in manifest["items"]) == [0, 1, 2, 3, 4]
    assert {e["key"] for e in manifest["items"]} == {r.key for r in result.records}
    assert len(result.items) == 5 and {row.status for row in result.items} == {"done"}


def test_two_batched_runs_at_once_pay_each_image_once(
    prefect_server: str, sim: Any, s3_bucket: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HAOEE_BATCH_SIZE", "3")
    path = _campaign(tmp_path / "twice.yaml", s3_bucket.bucket_name, "twice", 6)

    async def both() -> list[Any]:
        runs = [run_campaign(str(path), bucket=s3_bucket, return_state=True) for _ in range(2)]
        return list(await asyncio.gather(*runs))

    states = asyncio.run(both())
    results = [s.result() for s in states]
    assert all(r.done == 6 for r in results)
    assert sim.stats()["billable_generations"] == 6
    assert sum(r.paid_calls for r in results) == 6


def test_a_run_that_listed_s3_too_early_takes_the_items_stored_meanwhile(
    prefect_server: str, sim: Any, s3_bucket: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run B lists S3 before run A stores its items (here: B's plan sees nothing stored):
    each of B's items reads A's answer from the ledger, pays nothing, and finds A's object
    at upload (same sha256: nothing written twice)."""
    monkeypatch.setenv("HAOEE_BATCH_SIZE", "2")
    path = _campaign(tmp_path / "late.yaml", s3_bucket.bucket_name, "late", 4)
    first = asyncio.run(run_campaign(str(path), bucket=s3_bucket, return_state=True)).result()
    assert first.paid_calls == 4
    monkeypatch.setattr("prefect_haoee.flows.items.list_stems", lambda bucket, prefix: set())
    late = asyncio.run(run_campaign(str(path), bucket=s3_bucket, return_state=True)).result()
    assert late.done == 4 and late.paid_calls == 0
    assert {r.source for r in late.records} == {"resumed"}, [r.source for r in late.records]
    assert sorted(r.sha256 for r in late.records) == sorted(r.sha256 for r in first.records)
    assert sim.stats()["billable_generations"] == 4


def test_the_next_batch_opens_once_the_last_one_started_all_its_items(
    prefect_server: str, sim: Any, s3_bucket: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches of 2, 4 items in flight, 500 ms calls: batches 0 and 1 fill the flight at
    once and batch 2 opens right away (its items wait for the flight), instead of when a
    batch ends: two batches opened together drain their tails together otherwise."""
    from prefect_haoee.simulator.config import SimulatorConfig
    from prefect_haoee.simulator.server import run_simulator

    monkeypatch.setenv("HAOEE_BATCH_SIZE", "2")
    path = _campaign(tmp_path / "chain.yaml", s3_bucket.bucket_name, "chain", 6)
    config = SimulatorConfig(api_keys=sim.config.api_keys, latency_ms=500, latency_sigma=0.0)
    with run_simulator(config) as slow:
        monkeypatch.setenv("HAOEE_BASE_URL", slow.base_url)
        state = asyncio.run(run_campaign(str(path), bucket=s3_bucket, return_state=True))
    assert state.result().done == 6
    runs = {
        r.name.split("-")[1]: r for r in asyncio.run(_task_runs(state.state_details.flow_run_id, 3))
    }
    first_end = min(runs[n].end_time for n in ("0", "1"))
    assert runs["2"].start_time < first_end, {
        n: (r.start_time, r.end_time) for n, r in runs.items()
    }


def test_a_batch_pickles_without_the_flows_loop() -> None:
    batch = Batch(3, [], in_flight=4, slots="haoee-x")
    copy = pickle.loads(pickle.dumps(batch))
    assert (copy.number, copy.items, copy.in_flight, copy.slots) == (3, [], 4, "haoee-x")
