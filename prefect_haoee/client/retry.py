"""Retry and polling policies (pure functions of attempt numbers; no I/O)."""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass, field

from prefect_haoee.client.errors import HaoeeError, RateLimitedError, ServerError, TransportError

# What resending the *same* call can fix. Output moderation (50511/50519) is retryable too,
# but only with a new seed: that is the caller's decision, never the transport's.
RESENDABLE = (RateLimitedError, ServerError, TransportError)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date; None if absent/invalid."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with *equal* jitter; ``Retry-After`` honoured up to a cap.

    ``max_attempts`` counts the first try: a call reaches the gateway at most that often.
    The n-th wait (n = 1, 2, ...) is drawn uniformly from ``[c/2, c]`` with
    ``c = min(backoff_max, backoff_base * 2**(n-1))``: half of it fixed, so a retry is never
    immediate, half random, so calls that failed together do not come back together.

    ``Retry-After`` (429) is waited, capped at ``retry_after_max``, plus up to
    ``retry_after_jitter`` (10 %) of it on top, for the same reason. A ``Retry-After`` over
    ``retry_after_limit`` is not waited at all: the call fails at once (the gateway asks for
    a pause no item should hold a run for). So the client waits at most
    ``(max_attempts - 1) * retry_after_max * 1.1`` on rate limits (3 x 66 s by default).
    """

    max_attempts: int = 4
    backoff_base: float = 0.5
    backoff_max: float = 20.0
    retry_after_max: float = 60.0
    retry_after_limit: float = 300.0
    retry_after_jitter: float = 0.1
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def should_retry(self, error: HaoeeError, attempt: int) -> bool:
        """``attempt`` is the 1-based number of the try that just failed."""
        return (
            isinstance(error, RESENDABLE)
            and error.retryable
            and attempt < self.max_attempts
            and not self.waits_too_long(error)
        )

    def waits_too_long(self, error: HaoeeError) -> bool:
        """True for a 429 whose ``Retry-After`` is over ``retry_after_limit``."""
        return (
            isinstance(error, RateLimitedError)
            and error.retry_after is not None
            and error.retry_after > self.retry_after_limit
        )

    def delay(self, error: HaoeeError, attempt: int) -> float:
        if isinstance(error, RateLimitedError) and error.retry_after is not None:
            wait = min(error.retry_after, self.retry_after_max)
            return wait + self.rng.uniform(0.0, wait * self.retry_after_jitter)
        ceiling = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
        return self.rng.uniform(ceiling / 2, ceiling)


@dataclass(frozen=True)
class PollPolicy:
    """How ``wait`` polls an async task: growing intervals until a deadline."""

    initial_interval: float = 1.0
    factor: float = 1.5
    max_interval: float = 10.0
    timeout: float = 600.0

    def next_interval(self, previous: float | None) -> float:
        """The sleep before the next poll, given the previous one (None before the first)."""
        if previous is None:
            return self.initial_interval
        return min(self.max_interval, previous * self.factor)
