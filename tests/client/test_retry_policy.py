"""Backoff and Retry-After parsing, without I/O."""

from __future__ import annotations

import email.utils
import random

from prefect_haoee.client.errors import InvalidRequestError, RateLimitedError, ServerError
from prefect_haoee.client.retry import PollPolicy, RetryPolicy, parse_retry_after


def test_parse_retry_after_seconds_and_date() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    date = email.utils.formatdate(1_000_010, usegmt=True)
    assert parse_retry_after(date, now=1_000_000) == 10.0
    assert parse_retry_after(date, now=2_000_000) == 0.0


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    policy = RetryPolicy(max_attempts=10, backoff_base=0.5, backoff_max=4.0, rng=random.Random(1))
    err = ServerError("x")
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (8, 4.0)]:
        delays = [policy.delay(err, attempt) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jittered


def test_retry_after_honoured_and_capped() -> None:
    policy = RetryPolicy(retry_after_max=5.0)
    err = RateLimitedError("slow down")
    err.retry_after = 2.0
    delays = [policy.delay(err, 1) for _ in range(50)]
    assert all(2.0 <= d <= 2.2 for d in delays) and len(set(delays)) > 1  # small jitter
    err.retry_after = 100.0
    assert 5.0 <= policy.delay(err, 1) <= 5.5
    assert policy.should_retry(err, 1)
    err.retry_after = 500.0  # over retry_after_limit (300 s): not waited, not retried
    assert policy.waits_too_long(err) and not policy.should_retry(err, 1)


def test_should_retry_is_bounded_and_respects_retryable() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert policy.should_retry(ServerError("x"), 1)
    assert policy.should_retry(ServerError("x"), 2)
    assert not policy.should_retry(ServerError("x"), 3)
    assert not policy.should_retry(InvalidRequestError("x"), 1)


def test_poll_intervals_grow_to_max() -> None:
    poll = PollPolicy(initial_interval=1, factor=2, max_interval=5)
    seq: list[float] = []
    prev = None
    for _ in range(5):
        prev = poll.next_interval(prev)
        seq.append(prev)
    assert seq == [1, 2, 4, 5, 5]


def test_rate_limiter_spaces_calls() -> None:
    import time

    from prefect_haoee.client.ratelimit import RateLimiter

    limiter = RateLimiter(qps=50, burst=1)
    started = time.monotonic()
    for _ in range(11):
        limiter.acquire()
    elapsed = time.monotonic() - started
    assert 0.19 <= elapsed < 1.0  # 10 intervals of 20 ms after the first token
