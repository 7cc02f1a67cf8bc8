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
    """Bounded exponential backoff with full jitter; ``Retry-After`` honoured up to a cap.

    ``max_attempts`` counts the first try: a call reaches the gateway at most that often.
    """

    max_attempts: int = 4
    backoff_base: float = 0.5
    backoff_max: float = 20.0
    retry_after_max: float = 60.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def should_retry(self, error: HaoeeError, attempt: int) -> bool:
        """``attempt`` is the 1-based number of the try that just failed."""
        return isinstance(error, RESENDABLE) and attempt < self.max_attempts

    def delay(self, error: HaoeeError, attempt: int) -> float:
        if isinstance(error, RateLimitedError) and error.retry_after is not None:
            return min(error.retry_after, self.retry_after_max)
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
