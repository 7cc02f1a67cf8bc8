"""Per-key QPS (sliding 1 s window) and concurrency caps, plus peak tracking."""

from __future__ import annotations

import math
from collections import deque

from prefect_haoee.simulator.clock import SimClock
from prefect_haoee.simulator.codes import SimError

WINDOW_S = 1.0


class Limiter:
    def __init__(self, clock: SimClock, *, qps: int | None, concurrency: int | None) -> None:
        self._clock = clock
        self._qps = qps
        self._concurrency = concurrency
        self._windows: dict[str, deque[float]] = {}
        self._inflight: dict[str, int] = {}
        self._all: deque[float] = deque()
        self.current = 0
        self.peak_concurrency = 0
        self.peak_qps = 0

    @staticmethod
    def _prune(window: deque[float], now: float) -> None:
        edge = now - WINDOW_S
        while window and window[0] <= edge:
            window.popleft()

    def enter(self, key: str) -> None:
        """Admit one call of ``key`` or raise 50429/50430 (HTTP 429 with Retry-After)."""
        now = self._clock.monotonic()
        window = self._windows.setdefault(key, deque())
        self._prune(window, now)
        if self._qps is not None and len(window) >= self._qps:
            wait = window[0] + WINDOW_S - now
            raise SimError(
                50429, f"more than {self._qps} calls/s", retry_after=max(1, math.ceil(wait))
            )
        inflight = self._inflight.get(key, 0)
        if self._concurrency is not None and inflight >= self._concurrency:
            raise SimError(50430, f"more than {self._concurrency} calls in flight", retry_after=1)
        window.append(now)
        self._inflight[key] = inflight + 1
        self.current += 1
        self.peak_concurrency = max(self.peak_concurrency, self.current)
        self._prune(self._all, now)
        self._all.append(now)
        self.peak_qps = max(self.peak_qps, len(self._all))

    def leave(self, key: str) -> None:
        self._inflight[key] = max(0, self._inflight.get(key, 0) - 1)
        self.current = max(0, self.current - 1)
