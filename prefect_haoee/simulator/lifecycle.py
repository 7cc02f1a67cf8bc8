"""How a simulated job ages, and the store both the visual tasks and family jobs live in.

No background work: a job's phase is worked out from the simulator clock whenever it is
asked. ``queued`` for the first ``queue_s`` of its life, ``running`` until ``total_s``,
then ``finished``; older than the TTL it is ``expired``, older than twice that it is
forgotten (``not_found``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, Literal, Protocol, TypeVar

from prefect_haoee.simulator.clock import SimClock

Phase = Literal["queued", "running", "finished", "expired", "not_found"]
PRUNE_EVERY = 1000
"""Every this many additions, the jobs past twice their TTL are dropped (bounded memory)."""


def phase_of(age: float, *, ttl: float, queue_s: float, total_s: float) -> Phase:
    if age > 2 * ttl:
        return "not_found"
    if age > ttl:
        return "expired"
    if age < queue_s:
        return "queued"
    return "running" if age < total_s else "finished"


class Timed(Protocol):
    created: float
    queue_s: float
    total_s: float


T = TypeVar("T", bound=Timed)


class AgingStore(Generic[T]):
    """Jobs by id, each in the phase its age on the simulator clock gives."""

    def __init__(self, clock: SimClock, ttl_s: float) -> None:
        self._clock = clock
        self._ttl = ttl_s
        self._items: dict[str, T] = {}
        self._adds = 0

    def phase(self, item: T) -> Phase:
        age = self._clock.monotonic() - item.created
        return phase_of(age, ttl=self._ttl, queue_s=item.queue_s, total_s=item.total_s)

    def _put(self, key: str, item: T) -> T:
        self._adds += 1
        if self._adds % PRUNE_EVERY == 0:
            for old in [k for k, v in self._items.items() if self.phase(v) == "not_found"]:
                del self._items[old]
        self._items[key] = item
        return item

    def _find(self, key: str, belongs: Callable[[T], bool]) -> tuple[Phase, T | None]:
        """The job under ``key`` if ``belongs`` to the caller's scope (one forgotten is gone)."""
        item = self._items.get(key)
        if item is None or not belongs(item):
            return "not_found", None
        phase = self.phase(item)
        if phase == "not_found":
            del self._items[key]
            return "not_found", None
        return phase, item

    def __iter__(self) -> Iterator[T]:
        return iter(self._items.values())

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)
