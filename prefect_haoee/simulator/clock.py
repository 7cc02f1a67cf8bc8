"""The simulator's clock: real time plus an offset tests can advance.

Every time-based rule (task progress and expiry, URL expiry, the QPS window) reads this
clock, so a test can move a run forward by hours without sleeping.
"""

from __future__ import annotations

import time


class SimClock:
    def __init__(self) -> None:
        self._offset = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self._offset

    def wall(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._offset += seconds

    @property
    def offset(self) -> float:
        return self._offset
