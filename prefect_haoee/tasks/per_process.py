"""One value per key and process, made once: lock managers, Redis clients."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class PerProcess(Generic[K, V]):
    """``self(key)`` is ``make(key)``, made once per key in this process (thread-safe)."""

    def __init__(self, make: Callable[[K], V]) -> None:
        self._make = make
        self._made: dict[K, V] = {}
        self._mutex = threading.Lock()

    def __call__(self, key: K) -> V:
        with self._mutex:
            if key not in self._made:
                self._made[key] = self._make(key)
            return self._made[key]
