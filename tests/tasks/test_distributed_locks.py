"""Paid-step locks across machines: S3 claims in the output bucket (default) and Redis.

Two "machines" are two processes with their own ``PREFECT_HOME``, result storage and lock
directory, producing the same requests into one moto bucket at the same time, against a
simulator slow enough that their paid calls overlap. Before the claims, this paid every
request about twice (issue 15: 40 generations for 20 images); now the ledger shows
billable == distinct requests and no duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from lockkit import machine_env, redis_server, release_together, start_machine
from producekit import produce_all, records, sync_request

from prefect_haoee.simulator.config import SimulatorConfig
from prefect_haoee.simulator.server import run_simulator
from prefect_haoee.tasks.claims import S3Claims
from prefect_haoee.tasks.errors import LockNotObtainedError
from prefect_haoee.tasks.redis_lock import RedisLocks, redis_client
from prefect_haoee.tasks.step_json import encode_step

pytestmark = pytest.mark.integration

ITEMS = 20


def claims_of(bucket: Any, folder: str = ".haoee-claims") -> S3Claims:
    return S3Claims(bucket.credentials.get_s3_client(), bucket.bucket_name, folder, 2.0)


def committed_document() -> dict[str, Any]:
    from prefect_haoee.client import GeneratedImages

    return encode_step(GeneratedImages(urls=["https://x/1.png"], request_id="r-1"))


def test_s3_claims_exclude_renew_expire_and_hand_over(s3_bucket: Any) -> None:
    claims = claims_of(s3_bucket)
    key = f"haoee-generate-{uuid.uuid4().hex}"
    assert claims.try_acquire(key, "a", overwrite=False).acquired
    assert not claims.try_acquire(key, "b", overwrite=False).acquired
    assert claims.renew(key, "a")
    # Released with its committed step: the next holder reads it instead of paying.
    expires = datetime.now(timezone.utc) + timedelta(hours=1)
    assert claims.release(key, "a", committed_document(), expires)
    seen = claims.try_acquire(key, "b", overwrite=False)
    assert not seen.acquired and seen.committed == committed_document()
    # overwrite (a refresh) takes the claim despite the committed step.
    assert claims.try_acquire(key, "b", overwrite=True).acquired
    # Released without a step (the call failed): deleted, free at once.
    assert claims.release(key, "b", None, None)
    assert claims.try_acquire(key, "c", overwrite=False).acquired


def test_s3_claim_of_a_silent_holder_expires_and_is_taken_over_once(s3_bucket: Any) -> None:
    claims = claims_of(s3_bucket)
    key = f"haoee-generate-{uuid.uuid4().hex}"
    assert claims.try_acquire(key, "dead", overwrite=False).acquired
    deadline = time.monotonic() + 10
    winners: list[str] = []
    while not winners:
        assert time.monotonic() < deadline, "the claim never expired"
        winners = [h for h in ("b", "c") if claims.try_acquire(key, h, overwrite=False).acquired]
        time.sleep(0.2)
    assert len(winners) == 1  # one takeover, by If-Match on the expired claim's ETag
    assert not claims.renew(key, "dead")  # the old holder finds its lease lost


@pytest.mark.timeout(600)
@pytest.mark.parametrize("backend", ["auto", "redis"])
def test_two_machines_same_campaign_pay_each_request_once(
    prefect_server: str, simulator: Any, s3_bucket: Any, tmp_path: Path, backend: str
) -> None:
    config = SimulatorConfig(
        api_keys=simulator.config.api_keys,
        latency_ms=800,
        async_latency_ms=800,
        latency_sigma=0.3,
        seed=11,
    )
    endpoint = s3_bucket.credentials.aws_client_parameters.endpoint_url
    prefix = f"two/{backend}"
    with run_simulator(config) as sim, contextlib.ExitStack() as stack:
        extra: dict[str, str] = {}
        if backend == "redis":
            (tmp_path / "redis").mkdir()
            extra["HAOEE_LOCK_URL"] = stack.enter_context(redis_server(tmp_path / "redis"))
        machines = [
            start_machine(
                machine_env(tmp_path / name, sim, prefect_server, **extra),
                endpoint,
                s3_bucket.bucket_name,
                prefix,
                ITEMS,
            )
            for name in ("machine-a", "machine-b")
        ]
        outputs = release_together(machines)
        stats = sim.stats()
    for machine, (_, err) in zip(machines, outputs, strict=True):
        assert machine.returncode == 0, err[-4000:]
    paid = [json.loads(out.strip().splitlines()[-1])["paid"] for out, _ in outputs]
    print(
        json.dumps(
            {
                "backend": backend,
                "billable": stats["billable_generations"],
                "duplicates": stats["duplicates"],
                "paid_by_machine": [sum(p) for p in paid],
            }
        )
    )
    assert stats["billable_generations"] == ITEMS
    assert stats["duplicates"] == 0
    assert sum(map(sum, paid)) == ITEMS


HOLDER = """
import sys
from prefect_aws import AwsClientParameters, AwsCredentials
from prefect_haoee.tasks.claims import S3Claims
endpoint, bucket, key = sys.argv[1:4]
creds = AwsCredentials(aws_access_key_id="testing", aws_secret_access_key="testing",
    region_name="us-east-1", aws_client_parameters=AwsClientParameters(endpoint_url=endpoint))
claims = S3Claims(creds.get_s3_client(), bucket, ".haoee-claims", 2.0)
assert claims.try_acquire(key, "crashed-worker", overwrite=False).acquired
print("held", flush=True)
sys.stdin.read()
"""


@pytest.mark.timeout(300)
def test_claim_of_a_sigkilled_holder_expires_and_the_rerun_proceeds(
    prefect_server: str, sim: Any, s3_bucket: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    req = sync_request(int(uuid.uuid4().int % 100000))
    key = f"haoee-generate-{req.request_hash}"
    endpoint = s3_bucket.credentials.aws_client_parameters.endpoint_url
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(HOLDER), endpoint, s3_bucket.bucket_name, key],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    monkeypatch.setenv("HAOEE_LOCK_LEASE_SECONDS", "2")
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        # While the holder lives (it would renew), a short wait fails the item unpaid...
        monkeypatch.setenv("HAOEE_LOCK_WAIT_SECONDS", "0.5")
        with pytest.raises(LockNotObtainedError, match="another machine"):
            asyncio.run(produce_all([req], s3_bucket, "kill/claim")).pop().result()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    assert sim.stats()["billable_generations"] == 0
    # ...and after the SIGKILL its claim expires (2 s lease): the rerun takes it and pays once.
    monkeypatch.setenv("HAOEE_LOCK_WAIT_SECONDS", "30")
    started = time.monotonic()
    done = records(asyncio.run(produce_all([req], s3_bucket, "kill/claim")))
    assert done[0].cost_units == 1 and time.monotonic() - started < 30
    assert sim.stats()["billable_generations"] == 1
    claim = claims_of(s3_bucket).try_acquire(key, "later", overwrite=False)
    assert claim.committed is not None and claim.committed["type"] == "GeneratedImages"


def test_redis_locks_exclude_expire_and_hand_over(tmp_path: Path) -> None:
    with redis_server(tmp_path) as url:
        locks = RedisLocks(redis_client(url), lease_seconds=0.5)
        key = f"haoee-submit-{uuid.uuid4().hex}"
        assert locks.try_acquire(key, "a", overwrite=False).acquired
        assert not locks.try_acquire(key, "b", overwrite=False).acquired
        assert locks.renew(key, "a") and not locks.renew(key, "b")
        expires = datetime.now(timezone.utc) + timedelta(hours=1)
        assert locks.release(key, "a", committed_document(), expires)
        assert locks.try_acquire(key, "b", overwrite=False).committed == committed_document()
        other = f"haoee-submit-{uuid.uuid4().hex}"
        assert locks.try_acquire(other, "dead", overwrite=False).acquired
        deadline = time.monotonic() + 10
        while not locks.try_acquire(other, "alive", overwrite=False).acquired:
            assert time.monotonic() < deadline, "the hold timeout never ran out"
            time.sleep(0.1)
        assert not locks.release(other, "dead", None, None)
