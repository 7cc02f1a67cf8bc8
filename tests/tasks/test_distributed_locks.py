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
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from prefect_haoee.simulator.config import SimulatorConfig
from prefect_haoee.simulator.server import run_simulator
from prefect_haoee.tasks.claims import S3Claims
from prefect_haoee.tasks.errors import LockNotObtainedError
from prefect_haoee.tasks.redis_lock import RedisLocks, redis_client
from prefect_haoee.tasks.step_json import encode_step
from tests.tasks.lock_support import (
    machine_env,
    redis_server,
    release_together,
    start_holder,
    start_machine,
)
from tests.tasks.produce_support import produce_all, records, sync_request

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
        latency_ms=2000,  # wide enough for both machines' calls to overlap under load
        async_latency_ms=2000,
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
    reports = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    paid = [r["paid"] for r in reports]
    print(
        json.dumps(
            {
                "backend": backend,
                "billable": stats["billable_generations"],
                "duplicates": stats["duplicates"],
                "paid_by_machine": [sum(p) for p in paid],
                # resumed: read the step another machine committed (they overlapped);
                # s3: found the image already stored (they did not)
                "sources_by_machine": [
                    {s: r["sources"].count(s) for s in set(r["sources"])} for r in reports
                ],
            }
        )
    )
    assert stats["billable_generations"] == ITEMS
    assert stats["duplicates"] == 0
    assert sum(map(sum, paid)) == ITEMS


HOLDER = """
import sys, time
from prefect_aws import AwsClientParameters, AwsCredentials
from prefect_haoee.tasks.claims import S3Claims
endpoint, bucket, key = sys.argv[1:4]
creds = AwsCredentials(aws_access_key_id="testing", aws_secret_access_key="testing",
    region_name="us-east-1", aws_client_parameters=AwsClientParameters(endpoint_url=endpoint))
claims = S3Claims(creds.get_s3_client(), bucket, ".haoee-claims", 2.0)
assert claims.try_acquire(key, "crashed-worker", overwrite=False).acquired
print("held", flush=True)
while claims.renew(key, "crashed-worker"):  # a live holder renews its lease until killed
    time.sleep(0.5)
raise SystemExit("lease lost")
"""


@pytest.mark.timeout(300)
def test_claim_of_a_sigkilled_holder_expires_and_the_rerun_proceeds(
    prefect_server: str, sim: Any, s3_bucket: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    req = sync_request(int(uuid.uuid4().int % 100000))
    key = f"haoee-generate-{req.request_hash}"
    endpoint = s3_bucket.credentials.aws_client_parameters.endpoint_url
    holder = start_holder(HOLDER, endpoint, s3_bucket.bucket_name, key)
    monkeypatch.setenv("HAOEE_LOCK_LEASE_SECONDS", "2")
    try:
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


def test_claim_of_our_own_lock_domain_is_stale_under_our_file_lock(
    s3_bucket: Any, tmp_path: Path
) -> None:
    """A claim left by a holder of this lock directory (killed, or its release failed) is
    taken over at once by the next holder of the file lock, not after its lease."""
    from prefect_haoee.tasks.locks import FlockLockManager

    domain = FlockLockManager(tmp_path).domain()
    assert domain == FlockLockManager(tmp_path).domain()  # one id per lock directory
    client = s3_bucket.credentials.get_s3_client()
    key = f"haoee-submit-{uuid.uuid4().hex}"

    def claims(of: str) -> S3Claims:
        return S3Claims(client, s3_bucket.bucket_name, ".haoee-claims", 60.0, domain=of)

    assert claims(domain).try_acquire(key, f"{domain}/dead", overwrite=False).acquired
    assert not claims("other-machine").try_acquire(key, "other-machine/x", False).acquired
    assert claims(domain).try_acquire(key, f"{domain}/next", overwrite=False).acquired


def test_redis_lease_of_our_own_lock_domain_is_stale(tmp_path: Path) -> None:
    with redis_server(tmp_path) as url:
        key = f"haoee-submit-{uuid.uuid4().hex}"
        mine = RedisLocks(redis_client(url), lease_seconds=60, domain="d1")
        assert mine.try_acquire(key, "d1/dead", overwrite=False).acquired
        other = RedisLocks(redis_client(url), lease_seconds=60, domain="d2")
        assert not other.try_acquire(key, "d2/x", overwrite=False).acquired
        assert mine.try_acquire(key, "d1/next", overwrite=False).acquired
        assert mine.renew(key, "d1/next") and not mine.renew(key, "d1/dead")
