"""A token bucket that spaces gateway calls to at most ``qps`` per second.

Shared by every call of one client (sync or async), so a campaign's items together stay
under the campaign's ``qps`` whatever their number. Concurrency is capped separately by
httpx's connection pool (``max_connections``).
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Protocol


class AsyncLimiter(Protocol):
    """Anything that holds a gateway call until it may go (e.g. a limit shared by many
    processes); ``AsyncHaoeeClient(limiter=...)`` awaits it before every attempt."""

    async def aacquire(self) -> None: ...


class RateLimiter:
    """At most ``qps`` acquisitions per second, with bursts of up to ``burst``."""

    def __init__(self, qps: float, burst: int = 1) -> None:
        if qps <= 0:
            raise ValueError("qps must be positive")
        self.qps = qps
        self.burst = max(1, burst)
        self._tokens = float(self.burst)
        self._updated = time.monotonic()
        self._lock = threading.Lock()

    def _reserve(self) -> float:
        """Take a token; return how long to wait before using it."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.qps)
            self._updated = now
            self._tokens -= 1
            return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    def acquire(self) -> None:
        delay = self._reserve()
        if delay > 0:
            time.sleep(delay)

    async def aacquire(self) -> None:
        delay = self._reserve()
        if delay > 0:
            await asyncio.sleep(delay)
