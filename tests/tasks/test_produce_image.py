"""produce_image against the real parts: simulator over HTTP, moto S3 server, Prefect server.

"Paid" is read from the simulator's ledger: billable generations and duplicates.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import pytest

from prefect_haoee.client import ContentRejectedError, parse_request
from prefect_haoee.simulator.config import SimulatorConfig
from prefect_haoee.tasks.storage import head_object
from tests.support import SIM_KEY
from tests.tasks.produce_support import async_request, produce_all, records, sync_request

pytestmark = pytest.mark.integration


def object_bytes(bucket: Any, key: str) -> bytes:
    body = bucket.credentials.get_s3_client().get_object(Bucket=bucket.bucket_name, Key=key)
    data: bytes = body["Body"].read()
    return data


def test_images_land_in_s3_and_a_rerun_pays_nothing(
    prefect_server: str, sim: Any, s3_bucket: Any, state_dir: Path
) -> None:
    requests = [sync_request(i) for i in range(3)] + [async_request(i) for i in range(3)]
    first = records(asyncio.run(produce_all(requests, s3_bucket, "t/rerun")))
    stats = sim.stats()
    assert stats["billable_generations"] == 6 and stats["duplicates"] == 0
    for request, record in zip(requests, first, strict=True):
        assert record.key == f"t/rerun/{request.request_hash}.png"
        assert record.cost_units == 1 and record.source == "generated"
        data = object_bytes(s3_bucket, record.key)
        assert hashlib.sha256(data).hexdigest() == record.sha256
        head = head_object(s3_bucket, record.key)
        assert head is not None
        assert head["ContentType"] == "image/png"
        assert head["Metadata"]["request-hash"] == request.request_hash
        assert head["Metadata"]["sha256"] == record.sha256
        assert (record.width, record.height) == (1024, 1024) or record.width > 0
    assert {r.mode for r in first} == {"sync", "async"}

    second = records(asyncio.run(produce_all(requests, s3_bucket, "t/rerun")))
    assert sim.stats()["billable_generations"] == 6  # the rerun paid for nothing
    assert [r.sha256 for r in second] == [r.sha256 for r in first]

    # Persisted results (task ids, answers, records) never hold the API key.
    files = [p for p in (state_dir / "results").rglob("*") if p.is_file()]
    assert files
    assert not [p for p in files if SIM_KEY.encode() in p.read_bytes()]


def test_s3_is_the_final_ledger_even_without_prefect_cache(
    prefect_server: str, sim: Any, s3_bucket: Any
) -> None:
    requests = [sync_request(10), async_request(10)]
    asyncio.run(produce_all(requests, s3_bucket, "t/ledger"))
    # Another prefix layout of the same destination: Prefect's produce cache misses, but the
    # paid steps are committed and the objects are checked: no second payment.
    from prefect_haoee.tasks import produce_image

    async def again() -> list[Any]:
        task = produce_image.with_options(refresh_cache=True)
        return [await task(r, s3_bucket, "t/ledger") for r in requests]

    from prefect import flow

    got = asyncio.run(flow(name="again")(again)())
    assert [r.source for r in got] == ["s3", "s3"]
    assert all(r.cost_units == 0 and r.cache_hit for r in got)
    assert sim.stats()["billable_generations"] == 2


def test_moderation_is_final_and_not_retried(prefect_server: str, sim: Any, s3_bucket: Any) -> None:
    bad = sync_request(20, prompt="a poster with a copyright-word on it")
    (state,) = asyncio.run(produce_all([bad], s3_bucket, "t/moderation", retries=3))
    assert state.is_failed()
    with pytest.raises(ContentRejectedError) as info:
        state.result()
    assert info.value.code == 50413 and not info.value.retryable
    stats = sim.stats()
    assert stats["calls_by_action"].get("CVProcess") == 1  # one call, no client or task retry
    assert stats["billable_generations"] == 0


def test_random_seed_is_never_cached(prefect_server: str, sim: Any, s3_bucket: Any) -> None:
    request = sync_request(30, seed=-1)
    asyncio.run(produce_all([request], s3_bucket, "t/random"))
    asyncio.run(produce_all([request], s3_bucket, "t/random-2"))
    stats = sim.stats()
    assert stats["billable_generations"] == 2
    assert stats["duplicates"] == 0 and stats["duplicates_random_seed"] == 1


def test_concurrent_duplicates_pay_once(prefect_server: str, sim: Any, s3_bucket: Any) -> None:
    # The same request produced into two destinations at once: the paid step is SERIALIZABLE,
    # so the second waits for the first one's commit and reads it.
    from prefect import flow

    from prefect_haoee.tasks import produce_image

    request = async_request(40)

    @flow(name="duplicates")
    async def both() -> list[Any]:
        return list(
            await asyncio.gather(
                produce_image(request, s3_bucket, "t/dup-a"),
                produce_image(request, s3_bucket, "t/dup-b"),
                produce_image(request, s3_bucket, "t/dup-c"),
            )
        )

    got = asyncio.run(both())
    assert sim.stats()["billable_generations"] == 1
    assert sorted(r.cost_units for r in got) == [0, 0, 1]
    assert len({r.sha256 for r in got}) == 1


def test_faults_still_produce_everything_paying_once(
    prefect_server: str, simulator: Any, sim: Any, s3_bucket: Any
) -> None:
    from prefect_haoee.simulator.server import run_simulator

    config = SimulatorConfig(
        api_keys=simulator.config.api_keys,
        latency_ms=10,
        latency_sigma=0.0,
        fault_rates={"429": 0.2, "500": 0.05},
        seed=11,
    )
    with run_simulator(config) as faulty:
        import os

        os.environ["HAOEE_BASE_URL"] = faulty.base_url
        try:
            requests = [sync_request(100 + i) for i in range(10)]
            requests += [async_request(100 + i) for i in range(10)]
            got = records(asyncio.run(produce_all(requests, s3_bucket, "t/faults", retries=2)))
            stats = faulty.stats()
        finally:
            os.environ["HAOEE_BASE_URL"] = simulator.base_url
    assert len(got) == 20 and all(r.sha256 for r in got)
    assert stats["billable_generations"] == 20
    assert stats["duplicates"] == 0
    injected = stats["faults_injected"]
    assert injected.get("50429", 0) > 0 and sum(injected.values()) > 3


def test_output_moderation_reseeds_and_records_the_seed(
    prefect_server: str, simulator: Any, sim: Any, s3_bucket: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect_haoee.simulator.server import run_simulator

    config = SimulatorConfig(
        api_keys=simulator.config.api_keys,
        latency_ms=5,
        latency_sigma=0.0,
        fault_rates={"50511": 0.5},
        seed=3,
    )
    with run_simulator(config) as faulty:
        monkeypatch.setenv("HAOEE_BASE_URL", faulty.base_url)
        requests = [sync_request(200 + i) for i in range(8)]
        states = asyncio.run(produce_all(requests, s3_bucket, "t/reseed"))
        stats = faulty.stats()
    done = [s.result() for s in states if s.is_completed()]
    reseeded = [r for r in done if r.reseeds > 0]
    assert reseeded, "with a 50% output-moderation rate some item must have been reseeded"
    planned = {r.request_hash: r.seed_value for r in requests}
    for record in reseeded:
        assert record.generated_hash != record.request_hash
        assert record.seed != planned[record.request_hash]  # the new seed is recorded
        head = head_object(s3_bucket, record.key)
        assert head is not None and head["Metadata"]["seed"] == str(record.seed)
    for state in states:
        if state.is_failed():  # reseeds exhausted: reported, not retried forever
            with pytest.raises(ContentRejectedError):
                state.result()
    assert stats["duplicates"] == 0
    assert stats["calls_by_action"]["CVProcess"] <= len(requests) * 3


def test_expired_task_is_resubmitted_once(prefect_server: str, sim: Any, s3_bucket: Any) -> None:
    from prefect import flow

    from prefect_haoee.tasks import produce_image, submit_generation

    request = async_request(300)

    @flow(name="submit-only")
    def submit_only() -> Any:
        return submit_generation(request)

    submit_only()
    sim.advance_clock(13 * 3600)  # the gateway forgets tasks after 12 h

    @flow(name="resume")
    async def resume() -> Any:
        return await produce_image(request, s3_bucket, "t/expired")

    record = asyncio.run(resume())
    assert record.cost_units == 1  # one resubmission, and only one
    assert sim.stats()["billable_generations"] == 2


def test_paid_retries_are_bounded(
    prefect_server: str, simulator: Any, sim: Any, s3_bucket: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect_haoee.simulator.server import run_simulator

    config = SimulatorConfig(
        api_keys=simulator.config.api_keys, latency_ms=1, fault_rates={"500": 1.0}, seed=1
    )
    with run_simulator(config) as broken:
        monkeypatch.setenv("HAOEE_BASE_URL", broken.base_url)
        monkeypatch.setenv("HAOEE_MAX_ATTEMPTS", "3")
        (state,) = asyncio.run(produce_all([sync_request(400)], s3_bucket, "t/bound", retries=2))
        stats = broken.stats()
    assert state.is_failed()
    # HAOEE_MAX_ATTEMPTS over both layers: the client's 3 attempts, no task retry on top
    # (3 x 3 task runs = 9 when each layer retried on its own); nothing billed.
    assert stats["calls_by_action"]["CVProcess"] == 3
    assert stats["billable_generations"] == 0


def test_request_model_is_the_identity() -> None:
    a = parse_request({"req_key": "high_aes_general_v20_L", "prompt": "x", "seed": 1})
    b = parse_request(
        {"req_key": "high_aes_general_v20_L", "prompt": "x", "seed": 1, "return_url": False}
    )
    assert a.request_hash == b.request_hash
