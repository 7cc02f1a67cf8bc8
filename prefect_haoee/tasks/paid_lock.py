"""The lock a paid step holds from its look-up to its commit, owned by our code.

Prefect's transactions ignore what ``acquire_lock`` answers and never pass a hold timeout,
so the paid steps do not lean on them: :func:`paid_lock` takes

1. the machine-local lock (:data:`~prefect_haoee.tasks.locks.LOCK_MANAGER`: file locks, or
   what :func:`~prefect_haoee.tasks.locks.set_lock_manager` installed), then
2. the cross-machine lease ``HAOEE_LOCK_URL`` names (:mod:`~prefect_haoee.tasks.lock_settings`):
   a claim object in the output bucket (default when the step has one) or a Redis lock,
   renewed every third of its lease while the block runs, released with the committed
   step so that a machine that waited reads it instead of paying. A step whose request
   the running campaign claimed with its claim set (:func:`claim_set_held`,
   :mod:`~prefect_haoee.tasks.claim_sets`) needs no claim of its own; a per-item claim
   taken while another run's set holds the request is given back
   (:class:`~prefect_haoee.tasks.errors.ClaimedBySetError`).

A lock not obtained within ``HAOEE_LOCK_WAIT_SECONDS`` is :class:`LockNotObtainedError`,
an unreachable backend :class:`LockBackendError` (retryable): never an unlocked paid call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import anyio
from prefect.context import TaskRunContext

from prefect_haoee.client.errors import HaoeeError
from prefect_haoee.tasks.claim_scope import (
    claim_sets_for,
    claims_folder,
    current_run_id,
    done_sets_looked,
    held_set,
)
from prefect_haoee.tasks.claim_sets import HeldSet
from prefect_haoee.tasks.claims import Attempt, S3Claims
from prefect_haoee.tasks.errors import (
    ClaimedBySetError,
    LockBackendError,
    LockConfigurationError,
    LockNotObtainedError,
)
from prefect_haoee.tasks.lock_settings import LockSettings, lock_settings
from prefect_haoee.tasks.locks import LOCK_MANAGER, local_domain, new_holder
from prefect_haoee.tasks.redis_lock import RedisLocks, redis_client

logger = logging.getLogger("prefect_haoee.tasks")

_OUTPUT_BUCKET: ContextVar[Any | None] = ContextVar("haoee_output_bucket", default=None)
POLL_FIRST, POLL_MAX = 0.05, 1.0


class Leases(Protocol):
    """A cross-machine lease backend (:class:`S3Claims`, :class:`RedisLocks`)."""

    def try_acquire(self, key: str, holder: str, overwrite: bool) -> Attempt: ...

    def renew(self, key: str, holder: str) -> bool: ...

    def release(
        self, key: str, holder: str, document: dict[str, Any] | None, expires: datetime | None
    ) -> bool: ...


@contextlib.contextmanager
def output_bucket(bucket: Any) -> Iterator[None]:
    """Paid steps inside the block claim their requests in ``bucket`` (an ``S3Bucket``).

    ``produce_image`` and ``produce_media`` need not say it: their ``bucket`` parameter is
    found in the task run's context. Use it in flows of your own around the client.
    """
    token = _OUTPUT_BUCKET.set(bucket)
    try:
        yield
    finally:
        _OUTPUT_BUCKET.reset(token)


def _current_bucket() -> Any | None:
    bucket = _OUTPUT_BUCKET.get()
    if bucket is not None:
        return bucket
    ctx = TaskRunContext.get()
    candidate = ctx.parameters.get("bucket") if ctx is not None and ctx.parameters else None
    if candidate is not None and hasattr(candidate, "bucket_name"):
        return candidate
    return None


def _leases(settings: LockSettings, domain: str | None) -> Leases | None:
    backend = settings.backend
    if backend == "file":
        return None
    if backend == "redis":
        return RedisLocks(redis_client(settings.redis_url), settings.lease_seconds, domain=domain)
    bucket = _current_bucket()
    if bucket is None:
        if backend == "s3":
            raise LockConfigurationError(
                "HAOEE_LOCK_URL=s3 claims paid steps in the output bucket, and this step has "
                "none (use produce_image/produce_media, or tasks.paid_lock.output_bucket)"
            )
        return None
    client = bucket.credentials.get_s3_client()
    folder = claims_folder(bucket, settings)
    return S3Claims(client, bucket.bucket_name, folder, settings.lease_seconds, domain=domain)


@dataclass
class Lease:
    """A held paid-step lock.

    ``committed`` is a step document another machine committed and left with the lock,
    or None. ``lost`` turns True if a renewal found the lease taken over.
    """

    key: str
    holder: str
    committed: dict[str, Any] | None = None
    document: dict[str, Any] | None = None
    expires: datetime | None = None
    lost: bool = False
    held_set: HeldSet | None = None

    def commit(self, document: dict[str, Any], expires: datetime) -> None:
        """Hand the committed step to the next holder (kept by the distributed lease, or
        by the claim set until the item is stored)."""
        self.document = document
        self.expires = expires
        if self.held_set is not None:
            self.held_set.note_commit(self.key, document, expires)


async def _call(what: str, fn: Any, *args: Any) -> Any:
    try:
        return await anyio.to_thread.run_sync(fn, *args)
    except HaoeeError:
        raise
    except Exception as exc:
        raise LockBackendError(
            f"Lock backend unreachable while trying to {what} ({type(exc).__name__}: {exc}): "
            "the paid step was not run"
        ) from exc


async def _renew_until_cancelled(leases: Leases, lease: Lease, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            ok = await anyio.to_thread.run_sync(leases.renew, lease.key, lease.holder)
        except Exception as exc:  # noqa: BLE001 - try again next time; the lease still runs
            logger.warning("Renewing the lock of %r failed: %s", lease.key, exc)
            continue
        if not ok:
            lease.lost = True
            logger.error(
                "The lock of paid step %r was lost (its lease expired and another holder took "
                "it): that request may be paid twice",
                lease.key,
            )
            return


def _not_obtained(key: str, wait: float, where: str) -> LockNotObtainedError:
    return LockNotObtainedError(
        f"Lock of paid step {key!r} not obtained within {wait:.0f} s ({where} holds it): "
        "the step was not run and nothing was paid; rerun later"
    )


async def _give_way_to_sets(claims: S3Claims, key: str, holder: str) -> None:
    """After taking a per-item claim: give it back if another run's claim set holds the
    key (or, inside ``produce_item``, stored it lately), raising :class:`ClaimedBySetError`."""
    sets = claim_sets_for(_current_bucket())
    if sets is None:
        return
    blocking = await _call("check claim sets", sets.covering, key, current_run_id())
    looked = done_sets_looked()
    if blocking is None or (not blocking.held and (looked is None or key in looked)):
        return
    await _call("release", claims.release, key, holder, None, None)
    what = "holds" if blocking.held else "stored lately"
    raise ClaimedBySetError(
        f"Paid step {key!r}: campaign run claim set {blocking.set_id} ({blocking.holder}) "
        f"{what} this request: the step was not run and nothing was paid",
        key=key,
        set_id=blocking.set_id,
        held=blocking.held,
    )


@asynccontextmanager
async def paid_lock(key: str, overwrite: bool = False) -> AsyncIterator[Lease]:
    """Hold the lock of ``key`` for the block (see the module docstring)."""
    settings = lock_settings()
    wait = LOCK_MANAGER.fixed_wait if LOCK_MANAGER.fixed_wait is not None else settings.wait_seconds
    deadline = time.monotonic() + wait
    domain = local_domain()
    holder = new_holder()
    held = held_set()
    covered = held is not None and held.covers(key)
    leases = None if covered else _leases(settings, domain)
    if not await LOCK_MANAGER.aacquire_lock(key, holder=holder, acquire_timeout=wait):
        raise _not_obtained(key, wait, "another process on this machine")
    try:
        if leases is None:
            yield Lease(key, holder, held_set=held if covered else None)
            return
        pause = POLL_FIRST
        while True:
            attempt = await _call("take", leases.try_acquire, key, holder, overwrite)
            if attempt.committed is not None:
                yield Lease(key, holder, committed=attempt.committed)
                return
            if attempt.acquired:
                if isinstance(leases, S3Claims):
                    await _give_way_to_sets(leases, key, holder)
                break
            if time.monotonic() + pause > deadline:
                raise _not_obtained(key, wait, "another machine")
            await asyncio.sleep(pause)
            pause = min(pause * 1.5, POLL_MAX)
        lease = Lease(key, holder)
        renewer = asyncio.ensure_future(_renew_until_cancelled(leases, lease, settings.renew_every))
        try:
            yield lease
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            try:
                await _call("release", leases.release, key, holder, lease.document, lease.expires)
            except LockBackendError as exc:
                # The step is committed to result storage already; the lease runs out alone.
                logger.warning("Releasing the lock of %r failed: %s", key, exc)
    finally:
        LOCK_MANAGER.release_lock(key, holder)
