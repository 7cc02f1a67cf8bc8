"""Claim sets (issue 17): one S3 claim for a campaign run's items, against per-item claims.

Against moto's S3 server: sets exclude each other and the per-item claims of single items
(both ways), expire when their holder stops renewing, stay "done" a while after their
end; a single item that meets another run's set pays nothing, waits for that run and takes
what it stored; a killed holder's set frees its items within one lease.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from prefect_haoee.tasks.claim_scope import claim_set_held
from prefect_haoee.tasks.claim_sets import ClaimSets
from prefect_haoee.tasks.claims import S3Claims
from prefect_haoee.tasks.digest_set import DigestSet, digest
from prefect_haoee.tasks.errors import LockNotObtainedError
from prefect_haoee.tasks.item_claims import item_claim_key
from tests.tasks.lock_support import start_holder
from tests.tasks.produce_support import produce_all, records, sync_request

pytestmark = pytest.mark.integration

FOLDER = ".haoee-claims"


def sets_of(bucket: Any, lease: float = 60.0) -> ClaimSets:
    return ClaimSets(bucket.credentials.get_s3_client(), bucket.bucket_name, FOLDER, lease)


def keys(n: int) -> list[str]:
    return [f"haoee-generate-{uuid.uuid4().hex}" for _ in range(n)]


def of(given: list[str]) -> DigestSet:
    return DigestSet(digest(k) for k in given)


def test_claim_sets_exclude_each_other_and_per_item_claims(s3_bucket: Any) -> None:
    sets = sets_of(s3_bucket)
    a_keys, b_only, single = keys(5), keys(2), keys(1)[0]
    a = sets.acquire(of(a_keys), "run-a", "holder-a")
    assert all(a.covers(k) for k in a_keys) and not a.left_out
    singles = S3Claims(s3_bucket.credentials.get_s3_client(), s3_bucket.bucket_name, FOLDER, 60)
    assert singles.try_acquire(single, "item", overwrite=False).acquired
    b = sets_of(s3_bucket).acquire(of([*a_keys[2:], *b_only, single]), "run-b", "holder-b")
    # B holds only what nobody held: A's keys and the single item's key are left out.
    assert b.left_out == of([*a_keys[2:], single])
    assert all(b.covers(k) for k in b_only) and not any(b.covers(k) for k in a_keys)
    # A single item (another run) meets A's set; A's own run does not.
    blocking = sets.covering(a_keys[0], "run-c")
    assert blocking is not None and blocking.held and blocking.set_id == a.set_id
    assert sets.covering(a_keys[0], "run-a") is None
    assert sets.covering(keys(1)[0], "run-c") is None
    # A ends: its keys are "stored lately" (done) for a while, and free for a new set.
    sets.release(a)
    ended = sets.covering(a_keys[0], "run-c")
    assert ended is not None and not ended.held
    c = sets_of(s3_bucket).acquire(of(a_keys), "run-c", "holder-c")
    assert all(c.covers(k) for k in a_keys)
    assert not a.covers(a_keys[0])  # a released set covers nothing


def test_a_set_whose_holder_stops_renewing_is_pruned_and_its_holder_told(
    s3_bucket: Any,
) -> None:
    lease = 1.0
    the_keys = keys(3)
    silent = sets_of(s3_bucket, lease).acquire(of(the_keys), "run-a", "holder-a")
    later = sets_of(s3_bucket, lease)
    deadline = time.monotonic() + 15
    while True:
        taken = later.acquire(of(the_keys), "run-b", "holder-b")
        if not taken.left_out:
            break
        assert time.monotonic() < deadline, "the silent set never expired"
        later.release(taken)
        time.sleep(0.3)
    assert all(taken.covers(k) for k in the_keys)
    assert not sets_of(s3_bucket, lease).renew(silent) and silent.lost
    assert not silent.covers(the_keys[0])


def test_a_renewed_set_keeps_its_keys_past_its_lease(s3_bucket: Any) -> None:
    lease = 1.5
    mine = sets_of(s3_bucket, lease)
    the_keys = keys(2)
    held = mine.acquire(of(the_keys), "run-a", "holder-a")
    for _ in range(6):  # 3 s: twice the lease
        time.sleep(0.5)
        assert mine.renew(held)
    other = sets_of(s3_bucket, lease).acquire(of(the_keys), "run-b", "holder-b")
    assert other.left_out == of(the_keys)


def test_paid_but_not_stored_items_are_handed_over_at_the_end(s3_bucket: Any) -> None:
    from prefect_haoee.client import GeneratedImages
    from prefect_haoee.tasks.step_json import encode_step

    sets = sets_of(s3_bucket)
    stored, lost = keys(2)
    held = sets.acquire(of([stored, lost]), "run-a", "holder-a")
    expires = datetime.now(timezone.utc) + timedelta(hours=1)
    document = encode_step(GeneratedImages(urls=["https://x/1.png"], request_id="r-1"))
    held.note_commit(stored, document, expires)
    held.note_commit(lost, document, expires)
    held.settled(stored)  # its file is in S3
    sets.release(held)
    singles = S3Claims(s3_bucket.credentials.get_s3_client(), s3_bucket.bucket_name, FOLDER, 60)
    assert singles.try_acquire(lost, "next", overwrite=False).committed == document
    assert singles.try_acquire(stored, "next", overwrite=False).acquired


@pytest.mark.timeout(300)
def test_a_single_item_waits_for_another_runs_set_and_takes_what_it_stored(
    prefect_server: str, sim: Any, s3_bucket: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    req = sync_request(int(uuid.uuid4().int % 100000))
    key = item_claim_key(req, "sync")
    assert key is not None
    sets = sets_of(s3_bucket)
    other_run = sets.acquire(of([key]), "another-run", "machine-b/x")
    # While the other run holds it, a short wait fails the item unpaid...
    monkeypatch.setenv("HAOEE_LOCK_WAIT_SECONDS", "0.5")
    with pytest.raises(LockNotObtainedError, match="claim set"):
        asyncio.run(produce_all([req], s3_bucket, "sets/wait")).pop().result()
    assert sim.stats()["billable_generations"] == 0
    # ...and with a longer one it waits while the other run produces the item, then takes
    # that run's file: one payment in all.
    monkeypatch.setenv("HAOEE_LOCK_WAIT_SECONDS", "60")
    waiting: list[Any] = []
    single = threading.Thread(
        target=lambda: waiting.append(
            # refresh: not Prefect's cached record of the other run's task, the item itself
            asyncio.run(produce_all([req], s3_bucket, "sets/wait", refresh=True))
        )
    )
    single.start()
    try:
        with claim_set_held(other_run):  # as the other run: its set covers the item
            made = records(asyncio.run(produce_all([req], s3_bucket, "sets/wait")))
        assert made[0].cost_units == 1
    finally:
        sets.release(other_run)
        single.join(timeout=120)
    [found] = records(waiting[0])
    assert found.cost_units == 0 and found.key == made[0].key
    assert sim.stats()["billable_generations"] == 1


HOLDER = """
import sys, time
from prefect_aws import AwsClientParameters, AwsCredentials
from prefect_haoee.tasks.claim_sets import ClaimSets
from prefect_haoee.tasks.digest_set import DigestSet, digest
endpoint, bucket, key = sys.argv[1:4]
creds = AwsCredentials(aws_access_key_id="testing", aws_secret_access_key="testing",
    region_name="us-east-1", aws_client_parameters=AwsClientParameters(endpoint_url=endpoint))
sets = ClaimSets(creds.get_s3_client(), bucket, ".haoee-claims", 2.0)
held = sets.acquire(DigestSet([digest(key)]), "crashed-run", "crashed-worker/1")
assert held.covers(key)
print("held", flush=True)
while sets.renew(held):  # a live holder renews its set until killed
    time.sleep(0.5)
raise SystemExit("set lost")
"""


@pytest.mark.timeout(300)
def test_the_set_of_a_sigkilled_run_frees_its_items_within_a_lease(
    prefect_server: str, sim: Any, s3_bucket: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    req = sync_request(int(uuid.uuid4().int % 100000))
    key = item_claim_key(req, "sync")
    endpoint = s3_bucket.credentials.aws_client_parameters.endpoint_url
    holder = start_holder(HOLDER, endpoint, s3_bucket.bucket_name, str(key))
    monkeypatch.setenv("HAOEE_LOCK_LEASE_SECONDS", "2")
    monkeypatch.setenv("HAOEE_LOCK_WAIT_SECONDS", "0.5")
    try:
        with pytest.raises(LockNotObtainedError, match="claim set"):
            asyncio.run(produce_all([req], s3_bucket, "sets/kill")).pop().result()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    assert sim.stats()["billable_generations"] == 0
    monkeypatch.setenv("HAOEE_LOCK_WAIT_SECONDS", "30")
    started = time.monotonic()
    [done] = records(asyncio.run(produce_all([req], s3_bucket, "sets/kill")))
    assert done.cost_units == 1 and time.monotonic() - started < 30
    assert sim.stats()["billable_generations"] == 1


def test_digest_sets_are_compact_sorted_and_read_back_anywhere() -> None:
    given = keys(1000)
    digests = of(given)
    assert len(digests) == 1000 and all(digest(k) in digests for k in given)
    assert digest("haoee-generate-not-there") not in digests and "a key" not in digests
    raw = digests.to_bytes()
    assert len(raw) == 8 * 1000 and DigestSet.from_bytes(raw) == digests
    # big-endian on the wire: the first 8 bytes are the smallest digest
    assert int.from_bytes(raw[:8], "big") == min(digests)
    with pytest.raises(ValueError, match="whole number"):
        DigestSet.from_bytes(raw[:-3])
