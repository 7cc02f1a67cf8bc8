"""The ledger of paid steps: one protocol, three stores (the output bucket on moto's S3
server, a directory, a real Redis), and :class:`Ledger.step` over them.

Each store is checked against the same cases: take a free key, be refused while it is
held, renew, finish (the next taker reads the answer), abandon (free at once), replace one
version of an answer only, expire, a stale holder of our lock domain, planted entries.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from prefect_haoee.client import GeneratedImages
from prefect_haoee.tasks.errors import (
    LockBackendError,
    LockConfigurationError,
    LockNotObtainedError,
    UnreadableStepError,
)
from prefect_haoee.tasks.ledger import Ledger, LedgerSettings
from prefect_haoee.tasks.ledger_entry import Store
from prefect_haoee.tasks.ledger_local import DirStore, LocalLocks
from prefect_haoee.tasks.ledger_redis import RedisStore, redis_client
from prefect_haoee.tasks.ledger_s3 import S3Store
from prefect_haoee.tasks.step_json import encode_step
from tests.tasks.lock_support import redis_server

pytestmark = pytest.mark.integration

HOUR = timedelta(hours=1)
STEP = encode_step(GeneratedImages(urls=["https://x/1.png"], request_id="r-1"))


def s3_store(bucket: Any, lease: float, domain: str | None = None) -> S3Store:
    client = bucket.credentials.get_s3_client()
    return S3Store(client, bucket.bucket_name, "t/.haoee-ledger", lease, domain)


@pytest.fixture(params=["s3", "redis"])
def leased(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A factory of stores with leases: ``make(lease_seconds, domain)``."""
    if request.param == "s3":
        bucket = request.getfixturevalue("s3_bucket")
        yield lambda lease, domain=None: s3_store(bucket, lease, domain)
        return
    with redis_server(tmp_path) as url:
        client = redis_client(url)
        yield lambda lease, domain=None: RedisStore(client, url, lease, domain)


def key() -> str:
    return f"haoee-generate-{uuid.uuid4().hex}"


def later() -> datetime:
    return datetime.now(timezone.utc) + HOUR


def test_a_key_is_held_by_one_taker_renewed_and_finished_for_the_next(leased: Any) -> None:
    store = leased(60.0)
    k = key()
    assert store.take(k, "a", None).state == "held"
    busy = store.take(k, "b", None)
    assert (busy.state, busy.holder) == ("busy", "a")
    assert store.renew(k, "a") and not store.renew(k, "b")
    assert store.finish(k, "a", STEP, later(), "run-a")
    done = store.take(k, "b", None)
    assert (done.state, done.step, done.paid_by) == ("done", STEP, "run-a")
    assert done.version is not None
    # A version that is not the current one reads the answer; the current one is replaced.
    assert store.take(k, "b", "0" * 16).state == "done"
    assert store.take(k, "b", done.version).state == "held"
    assert store.take(k, "c", done.version).state == "busy"
    store.abandon(k, "b")  # the paid call failed: free at once
    assert store.take(k, "c", None).state == "held"


def test_a_silent_holder_expires_and_is_taken_over_once(leased: Any) -> None:
    store = leased(1.0)
    k = key()
    assert store.take(k, "dead", None).state == "held"
    deadline = time.monotonic() + 15
    winners: list[str] = []
    while not winners:
        assert time.monotonic() < deadline, "the lease never ran out"
        winners = [h for h in ("b", "c") if store.take(k, h, None).state == "held"]
        time.sleep(0.2)
    assert len(winners) == 1
    assert not store.renew(k, "dead")  # the old holder finds its lease lost
    assert not store.finish(k, "dead", STEP, later(), "run-dead")  # and says so


def test_a_held_entry_of_our_own_lock_domain_is_stale_under_our_lock(leased: Any) -> None:
    """Left by a holder of this lock directory (killed, or its abandon failed): the next
    holder of the file lock takes it at once, another machine waits for its lease."""
    k = key()
    assert leased(60.0, "d1").take(k, "d1/dead", None).state == "held"
    assert leased(60.0, "d2").take(k, "d2/x", None).state == "busy"
    assert leased(60.0, "d1").take(k, "d1/next", None).state == "held"
    assert not leased(60.0, "d1").renew(k, "d1/dead")


def test_an_expired_answer_is_taken_again(leased: Any) -> None:
    store = leased(60.0)
    k = key()
    assert store.take(k, "a", None).state == "held"
    assert store.finish(k, "a", STEP, datetime.now(timezone.utc) + timedelta(seconds=1), "r")
    # The answer's own expiry (its file URLs' lifetime; S3's clock has whole seconds).
    time.sleep(2.2)
    assert store.take(k, "b", None).state == "held"


@pytest.mark.parametrize(
    "planted",
    [
        b"not json at all",
        b"[" * 100_000,  # deep nesting: never a RecursionError
        json.dumps(
            {
                "format": "prefect-haoee/ledger",
                "state": "held",
                "holder": "x",
                "lease_seconds": 10**9,
            }
        ).encode(),  # fmt: skip
        *(
            json.dumps(
                {
                    "format": "prefect-haoee/ledger",
                    "state": "held",
                    "holder": "x",
                    "lease_seconds": lease,
                    "renewed_at": "9999-12-31T23:59:59+00:00",
                }
            ).encode()
            for lease in (float("inf"), float("nan"), 1e18, -1, "60", None)
        ),  # fmt: skip
        b'{"format": "prefect-haoee/ledger", "state": "held", "keys": "1234567"}',
        json.dumps(
            {
                "format": "prefect-haoee/ledger",
                "state": "done",
                "step": "nope",
                "expires_at": "2999-01-01T00:00:00+00:00",
            }
        ).encode(),  # fmt: skip
    ],
)
def test_planted_entries_in_the_bucket_never_hold_a_request(s3_bucket: Any, planted: bytes) -> None:
    """Anyone who can write to the bucket can plant an entry: it is not ours, or claims a
    lease longer than ours (capped at ours), or an answer that is no answer."""
    store = s3_store(s3_bucket, 1.0)
    k = key()
    store.client.put_object(Bucket=s3_bucket.bucket_name, Key=store.object_key(k), Body=planted)
    deadline = time.monotonic() + 15
    while store.take(k, "a", None).state != "held":
        assert time.monotonic() < deadline, "a planted entry held the request"
        time.sleep(0.2)


def test_a_planted_done_entry_in_redis_is_replaced(tmp_path: Path) -> None:
    with redis_server(tmp_path) as url:
        client = redis_client(url)
        store = RedisStore(client, url, 60.0)
        k = key()
        client.set(RedisStore.keys(k)[1], b"garbage")
        assert store.take(k, "a", None).state == "held"


def test_the_directory_store_is_a_store() -> None:
    store: Store = DirStore(Path("/nonexistent"))
    assert store.leased is False


# Ledger.step over a store ------------------------------------------------------------


def ledger(store: Store, directory: Path, **settings: Any) -> Ledger:
    return Ledger(store, LocalLocks(directory), LedgerSettings(**settings))


def answer(n: int) -> GeneratedImages:
    return GeneratedImages(urls=[f"https://x/{n}.png"], request_id=f"r-{n}")


def test_concurrent_steps_pay_once_and_read_the_answer(s3_bucket: Any, tmp_path: Path) -> None:
    """Two machines (two lock directories) and two coroutines of each pay once."""
    machines = [
        ledger(s3_store(s3_bucket, 60.0, LocalLocks(tmp_path / m).domain()), tmp_path / m)
        for m in ("a", "b")
    ]
    paid: list[int] = []
    k = key()

    async def pay() -> GeneratedImages:
        paid.append(1)
        await asyncio.sleep(0.3)
        return answer(1)

    async def main() -> list[Any]:
        steps = [m.step(k, pay, expiration=HOUR, payer=f"run-{i}") for i, m in
                 enumerate(machines * 2)]  # fmt: skip
        return list(await asyncio.gather(*steps))

    outcomes = asyncio.run(main())
    assert len(paid) == 1
    assert sorted(o.reused for o in outcomes) == [False, True, True, True]
    assert {o.value.urls[0] for o in outcomes} == {"https://x/1.png"}
    assert len({o.version for o in outcomes}) == 1  # every reader sees the payer's version
    assert not any(o.paid_twice for o in outcomes)


def test_a_failed_call_frees_the_key_and_pays_nothing_twice(tmp_path: Path) -> None:
    led = ledger(DirStore(tmp_path / "entries"), tmp_path / "locks")
    k = key()

    async def refused() -> GeneratedImages:
        raise RuntimeError("refused")

    async def main() -> Any:
        with pytest.raises(RuntimeError):
            await led.step(k, refused, expiration=HOUR, payer="r")
        first = await led.step(k, _value(answer(2)), expiration=HOUR, payer="r")
        again = await led.step(k, _value(answer(3)), expiration=HOUR, payer="r2")
        replaced = await led.step(
            k, _value(answer(4)), expiration=HOUR, payer="r3", replace=first.version
        )
        return first, again, replaced

    first, again, replaced = asyncio.run(main())
    assert (first.reused, again.reused, again.value.urls) == (False, True, first.value.urls)
    assert (replaced.reused, replaced.value.urls) == (False, ["https://x/4.png"])


def test_the_answer_is_scrubbed_before_it_is_written(tmp_path: Path) -> None:
    led = ledger(DirStore(tmp_path / "entries"), tmp_path / "locks")
    k = key()
    leaky = GeneratedImages(urls=["https://x/1.png?k=sk-SECRET-KEY-123"], request_id="sk-SECRET")
    asyncio.run(
        led.step(
            k, _value(leaky), expiration=HOUR, payer="r", scrub=lambda t: t.replace("SECRET", "*")
        )
    )
    written = (tmp_path / "entries" / f"{k}.json").read_text()
    assert "SECRET" not in written and "sk-*-KEY" in written


def test_a_busy_key_past_the_wait_is_not_obtained_and_unpaid(
    s3_bucket: Any, tmp_path: Path
) -> None:
    store = s3_store(s3_bucket, 60.0)
    k = key()
    assert store.take(k, "other-machine/holder", None).state == "held"
    led = ledger(store, tmp_path, wait_seconds=0.3)
    with pytest.raises(LockNotObtainedError, match="still held by other-machine/holder"):
        asyncio.run(led.step(k, _never, expiration=HOUR, payer="r"))


def test_a_ledger_that_does_not_answer_is_retryable_and_unpaid(tmp_path: Path) -> None:
    from prefect_aws import AwsClientParameters, AwsCredentials

    dead = AwsCredentials(
        aws_access_key_id="x",
        aws_secret_access_key="x",
        region_name="us-east-1",
        aws_client_parameters=AwsClientParameters(endpoint_url="http://127.0.0.1:9"),
    ).get_s3_client()
    led = ledger(S3Store(dead, "b", ".haoee-ledger", 60.0, None), tmp_path)
    with pytest.raises(LockBackendError, match="did not answer.*not run") as caught:
        asyncio.run(led.step(key(), _never, expiration=HOUR, payer="r"))
    assert caught.value.retryable


def test_an_unreadable_answer_stops_the_step_unpaid(tmp_path: Path) -> None:
    led = ledger(DirStore(tmp_path / "entries"), tmp_path / "locks")
    k = key()
    led.store.finish(k, "h", {"format": "prefect-haoee/step", "version": 99}, later(), "r")
    with pytest.raises(UnreadableStepError, match="upgrade"):
        asyncio.run(led.step(k, _never, expiration=HOUR, payer="r"))


def test_a_lost_lease_is_reported_as_paid_twice(leased: Any, tmp_path: Path) -> None:
    k = key()
    domain = LocalLocks(tmp_path).domain()

    async def taken_over_meanwhile() -> GeneratedImages:
        # Another holder takes the key while we pay (as after a stall past our lease;
        # here through the stale-holder rule of our own lock domain, at once).
        assert leased(60.0, domain).take(k, f"{domain}/thief", None).state == "held"
        return answer(5)

    led = ledger(leased(60.0, domain), tmp_path)
    outcome = asyncio.run(led.step(k, taken_over_meanwhile, expiration=HOUR, payer="r"))
    assert outcome.paid_twice and not outcome.reused


async def _never() -> GeneratedImages:
    raise AssertionError("paid")


def _value(value: GeneratedImages) -> Any:
    async def pay() -> GeneratedImages:
        return value

    return pay


def test_an_answer_the_store_could_not_take_is_kept_for_the_retry(tmp_path: Path) -> None:
    """The store stops answering between the paid answer and its finish (an S3 outage):
    the answer is kept in this process, and the item's retry writes it and reads it
    instead of paying again."""

    class Outage(DirStore):
        down = True

        def finish(self, *args: Any) -> bool:
            if self.down:
                raise ConnectionError("S3 is down")
            return super().finish(*args)

    store = Outage(tmp_path / "entries")
    led = ledger(store, tmp_path / "locks", lease_seconds=0.6)
    k = key()
    first = asyncio.run(led.step(k, _value(answer(7)), expiration=HOUR, payer="r"))
    assert not first.reused and not (tmp_path / "entries" / f"{k}.json").exists()
    store.down = False
    again = asyncio.run(led.step(k, _never, expiration=HOUR, payer="r"))
    assert again.reused and again.value.urls == ["https://x/7.png"]
    assert (tmp_path / "entries" / f"{k}.json").exists()  # written by the retry
    assert asyncio.run(led.step(k, _never, expiration=HOUR, payer="r")).reused


def test_a_missing_bucket_is_said_before_any_paid_call(s3_bucket: Any, tmp_path: Path) -> None:
    client = s3_bucket.credentials.get_s3_client()
    store = S3Store(client, "no-such-bucket-here", ".haoee-ledger", 60.0, None)
    with pytest.raises(LockConfigurationError, match="'no-such-bucket-here': the bucket does"):
        asyncio.run(ledger(store, tmp_path).step(key(), _never, expiration=HOUR, payer="r"))
