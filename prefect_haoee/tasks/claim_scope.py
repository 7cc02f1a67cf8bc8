"""Where a claim set reaches the paid steps: the run's held set, and waiting for another's.

A campaign run claims its items once (:mod:`~prefect_haoee.tasks.claim_sets`) and runs
them inside :func:`claim_set_held`: their paid steps then take the machine-local file lock
only (``tasks.paid_lock``). A single item that meets another run's set waits for it with
:func:`await_set_release` and then looks in S3 (``tasks.item_runner``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import anyio
from prefect.context import FlowRunContext, TaskRunContext

from prefect_haoee.tasks.claim_sets import ClaimSets, HeldSet
from prefect_haoee.tasks.errors import LockNotObtainedError
from prefect_haoee.tasks.lock_settings import LockSettings, lock_settings
from prefect_haoee.tasks.locks import file_locks, local_domain

_HELD_SET: ContextVar[HeldSet | None] = ContextVar("haoee_held_claim_set", default=None)
_DONE_SETS_LOOKED: ContextVar[frozenset[str] | None] = ContextVar(
    "haoee_done_sets_looked", default=None
)
POLL_FIRST, POLL_MAX = 0.2, 2.0


@contextlib.contextmanager
def claim_set_held(held: HeldSet | None) -> Iterator[None]:
    """Paid steps inside the block whose key ``held`` covers take no claim of their own."""
    token = _HELD_SET.set(held)
    try:
        yield
    finally:
        _HELD_SET.reset(token)


def held_set() -> HeldSet | None:
    return _HELD_SET.get()


def settled(key: str | None) -> None:
    """The item claimed under ``key`` is stored: the held set hands nothing over for it."""
    held = _HELD_SET.get()
    if held is not None and key is not None:
        held.settled(key)


@contextlib.contextmanager
def reporting_done_sets(looked: frozenset[str]) -> Iterator[None]:
    """Inside: a per-item claim on a key another run's set stored lately is given back
    (``ClaimedBySetError``, held False) so the item looks in S3, unless the key is in
    ``looked`` (it looked already)."""
    token = _DONE_SETS_LOOKED.set(looked)
    try:
        yield
    finally:
        _DONE_SETS_LOOKED.reset(token)


def done_sets_looked() -> frozenset[str] | None:
    """None outside :func:`reporting_done_sets` (a done set then blocks nothing)."""
    return _DONE_SETS_LOOKED.get()


def current_run_id() -> str | None:
    """The flow run this code runs for (its claim set is ours), or None."""
    task_ctx = TaskRunContext.get()
    if task_ctx is not None and task_ctx.task_run.flow_run_id is not None:
        return str(task_ctx.task_run.flow_run_id)
    flow_ctx = FlowRunContext.get()
    if flow_ctx is not None and flow_ctx.flow_run is not None:
        return str(flow_ctx.flow_run.id)
    return None


def set_lock_name(set_id: str) -> str:
    """The file lock a claim set's holder keeps while it lives (``ClaimSets.stale``)."""
    return f"haoee-claim-set-{set_id}"


def claims_folder(bucket: Any, settings: LockSettings) -> str:
    """``<bucket_folder>/<HAOEE_LOCK_CLAIMS_FOLDER>``: per-item claims and the register."""
    return "/".join(
        p for p in (str(bucket.bucket_folder or "").strip("/"), settings.claims_folder) if p
    )


def claim_sets_for(bucket: Any) -> ClaimSets | None:
    """The claim-set register of ``bucket`` when paid steps claim in S3, else None."""
    settings = lock_settings()
    if settings.backend not in ("auto", "s3") or bucket is None:
        return None
    domain = local_domain()
    stale = None
    if domain:
        locks = file_locks(settings.directory)

        def stale(set_id: str) -> bool:
            return not locks.is_locked(set_lock_name(set_id))

    return ClaimSets(
        bucket.credentials.get_s3_client(),
        bucket.bucket_name,
        claims_folder(bucket, settings),
        settings.lease_seconds,
        domain=domain,
        stale=stale,
    )


async def await_set_release(bucket: Any, key: str) -> None:
    """Wait until no other run's set holds ``key`` (a held one ends, or its lease runs
    out), at most ``HAOEE_LOCK_WAIT_SECONDS``; else :class:`LockNotObtainedError`."""
    sets = claim_sets_for(bucket)
    if sets is None:
        return
    wait = lock_settings().wait_seconds
    deadline = time.monotonic() + wait
    run_id = current_run_id()
    pause = POLL_FIRST
    while True:
        blocking = await anyio.to_thread.run_sync(sets.covering, key, run_id)
        if blocking is None or not blocking.held:
            return
        if time.monotonic() + pause > deadline:
            raise LockNotObtainedError(
                f"Paid step {key!r}: campaign run claim set {blocking.set_id} "
                f"({blocking.holder}) held it for over {wait:.0f} s: the step was not run "
                "and nothing was paid; rerun later"
            )
        await asyncio.sleep(pause)
        pause = min(pause * 1.5, POLL_MAX)
