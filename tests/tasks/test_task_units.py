"""Unit tests of the task layer's pure parts: retry rules, cache keys, locks, reseeding."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from prefect_haoee.client.errors import (
    AuthenticationError,
    ContentRejectedError,
    InvalidRequestError,
    RateLimitedError,
    ServerError,
    TaskExpiredError,
    TaskTimeoutError,
    TransportError,
    UnusableAnswerError,
)
from prefect_haoee.tasks.cache import RequestHashPolicy, step_key
from prefect_haoee.tasks.locks import FlockLockManager
from prefect_haoee.tasks.produce import ProducePolicy, reseed, resolve_mode
from prefect_haoee.tasks.retry_rules import is_retryable
from tests.tasks.produce_support import async_request, sync_request


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (RateLimitedError("x", code=50429), True),
        (ServerError("x", code=50500), True),
        (TransportError("x"), True),
        (TaskTimeoutError("x"), True),
        (ContentRejectedError("x", code=50511), False),  # reseeded by produce_image instead
        (ContentRejectedError("x", code=50413), False),
        (AuthenticationError("x"), False),
        (InvalidRequestError("x", code=50200), False),
        (TaskExpiredError("x"), False),
        (EndpointConnectionError(endpoint_url="http://s3"), True),
        (ClientError({"Error": {"Code": "SlowDown"}}, "PutObject"), True),
        (
            ClientError(
                {"Error": {"Code": "AccessDenied"}, "ResponseMetadata": {"HTTPStatusCode": 403}},
                "PutObject",
            ),
            False,
        ),
        (
            ClientError(
                {"Error": {"Code": "X"}, "ResponseMetadata": {"HTTPStatusCode": 503}}, "PutObject"
            ),
            True,
        ),
        (ValueError("bug"), False),
        (None, False),
    ],
)
def test_retry_rules(exc: BaseException | None, expected: bool) -> None:
    assert is_retryable(exc) is expected


def test_a_paid_call_the_client_gave_up_on_is_final_for_task_retries() -> None:
    """HAOEE_MAX_ATTEMPTS holds over both layers: the client spent the budget (or the
    resend setting stopped it), so no task retry sends the paid call again."""
    for error in (TransportError("dropped"), ServerError("x"), RateLimitedError("x")):
        assert is_retryable(error)
        error.paid_sends = 1
        assert not is_retryable(error)
    never_sent = TransportError("refused")
    never_sent.request_sent = False
    assert is_retryable(never_sent)  # paid_sends == 0: the gateway never saw it
    assert not is_retryable(UnusableAnswerError("no image", request_id="r1"))


def test_request_hash_policy_keys() -> None:
    policy = RequestHashPolicy(step="submit")
    request = async_request(1)
    key = policy.compute_key(None, {"request": request, "credentials": object()}, {})  # type: ignore[arg-type]
    assert key == step_key("submit", request.request_hash)
    # credentials, clients and run ids never enter the key
    assert key == policy.compute_key(None, {"request": request}, {})  # type: ignore[arg-type]
    random_seed = async_request(1, seed=-1)
    assert policy.compute_key(None, {"request": random_seed}, {}) is None  # type: ignore[arg-type]


def test_produce_policy_depends_on_destination() -> None:
    class Bucket:
        def __init__(self, name: str) -> None:
            self.bucket_name = name
            self.bucket_folder = ""

    policy = ProducePolicy()
    r = sync_request(1)
    a = policy.compute_key(None, {"request": r, "bucket": Bucket("a"), "prefix": "p"}, {})  # type: ignore[arg-type]
    b = policy.compute_key(None, {"request": r, "bucket": Bucket("b"), "prefix": "p"}, {})  # type: ignore[arg-type]
    assert a and b and a != b


def test_reseed_is_deterministic_and_distinct() -> None:
    seeds = [reseed("abc", n) for n in range(1, 5)]
    assert seeds == [reseed("abc", n) for n in range(1, 5)]
    assert len(set(seeds)) == 4 and all(0 <= s < 2**31 for s in seeds)


def test_resolve_mode() -> None:
    assert resolve_mode(sync_request(1), "auto") == "sync"
    assert resolve_mode(async_request(1), "auto") == "async"
    with pytest.raises(ValueError, match="does not support"):
        resolve_mode(async_request(1), "sync")


def test_flock_manager_excludes_other_holders(tmp_path: Path) -> None:
    locks = FlockLockManager(tmp_path)
    assert locks.acquire_lock("k", "a")
    assert locks.acquire_lock("k", "a")  # re-entrant for its holder
    assert not locks.acquire_lock("k", "b", acquire_timeout=0.05)
    assert locks.is_locked("k") and locks.is_lock_holder("k", "a")
    locks.release_lock("k", "b")  # not the holder: no-op
    assert locks.is_locked("k")
    locks.release_lock("k", "a")
    locks.release_lock("k", "a")  # releasing twice is a no-op
    assert not locks.is_locked("k")
    assert locks.acquire_lock("k", "b", acquire_timeout=0.05)


def test_flock_manager_sees_locks_of_other_managers(tmp_path: Path) -> None:
    one, two = FlockLockManager(tmp_path), FlockLockManager(tmp_path)
    assert one.acquire_lock("k", "a")
    assert two.is_locked("k")
    assert not two.acquire_lock("k", "b", acquire_timeout=0.05)

    async def wait_then_take() -> bool:
        waiter = asyncio.ensure_future(two.aacquire_lock("k", "b", acquire_timeout=5))
        await asyncio.sleep(0)
        one.release_lock("k", "a")
        return await waiter

    assert asyncio.run(wait_then_take())
