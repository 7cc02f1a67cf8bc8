"""The lock a paid step holds from its look-up to its commit, owned by our code.

Prefect's transactions ignore what ``acquire_lock`` answers and never pass a hold timeout,
so the paid steps do not lean on them: :func:`paid_lock` acquires the configured backend
itself, and a lock it does not get is :class:`LockNotObtainedError`, never an unlocked
paid call.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prefect_haoee.tasks.locks import LOCK_MANAGER, not_obtained


@dataclass
class Lease:
    """A held paid-step lock.

    ``committed`` is a step document another machine committed under the same key and
    left with the lock (distributed backends), or None.
    """

    key: str
    holder: str
    committed: dict[str, Any] | None = None
    document: dict[str, Any] | None = None
    expires: datetime | None = None

    def commit(self, document: dict[str, Any], expires: datetime) -> None:
        """Hand the committed step to the next holder (kept by distributed backends)."""
        self.document = document
        self.expires = expires


@asynccontextmanager
async def paid_lock(key: str) -> AsyncIterator[Lease]:
    """Hold the lock of ``key`` for the block; raise :class:`LockNotObtainedError` if it
    cannot be had within the configured wait."""
    holder = uuid.uuid4().hex
    if not await LOCK_MANAGER.aacquire_lock(key, holder=holder):
        raise not_obtained(key, LOCK_MANAGER.wait_seconds)
    try:
        yield Lease(key, holder)
    finally:
        LOCK_MANAGER.release_lock(key, holder)
