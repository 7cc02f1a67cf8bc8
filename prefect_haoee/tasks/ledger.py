"""The ledger of paid steps: every paid gateway call goes through :meth:`Ledger.step`.

One paid step, one entry (:mod:`.ledger_entry`), in this order::

    this machine's lock file of the key (ledger_local.LocalLocks)
      -> take: done(answer)  -> the answer, nothing paid
               busy          -> wait (poll) until done or free, within HAOEE_LOCK_WAIT_SECONDS
               held          -> pay (lease renewed every third of it)
                                  -> finish(answer): done for every machine and run
                                  |  abandon (the call failed): free at once

The entry is both the lease and the commit, so a machine reads another machine's answer
from it whatever its own Prefect result storage, and a run killed between a paid answer
and its upload resumes from it anywhere. Where entries live (``HAOEE_LOCK_URL``):

* ``auto`` (default): the item's **output bucket** (``.haoee-ledger/`` in the block's
  folder; :mod:`.ledger_s3`), else (a fine-grained task given no bucket) a directory on
  this machine;
* ``s3``: the output bucket, and a step without one is an error;
* ``file`` or ``file:///DIR``: a directory on this machine (``DIR``, else
  ``HAOEE_LOCK_DIR``, default ``$PREFECT_HOME/haoee-locks``; :mod:`.ledger_local`);
* ``redis://...``: Redis (:mod:`.ledger_redis`).

A lease is ``HAOEE_LOCK_LEASE_SECONDS`` (60 s). Nothing is ever paid unguarded: a store that
does not answer is :class:`LockBackendError` (retryable) before the call, a holder that keeps
the key past ``HAOEE_LOCK_WAIT_SECONDS`` (15 min) is :class:`LockNotObtainedError`, a holder
whose lease was lost reports ``paid_twice`` (another holder may have paid too).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import urlsplit

import anyio
from prefect.exceptions import MissingContextError
from prefect.logging import get_run_logger
from prefect.settings import PREFECT_HOME
from prefect.utilities.asyncutils import run_coro_as_sync
from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from prefect_haoee.client.env_settings import from_environment
from prefect_haoee.client.errors import HaoeeError
from prefect_haoee.client.redact import map_strings, redact_url
from prefect_haoee.tasks.errors import (
    LockBackendError,
    LockConfigurationError,
    LockNotObtainedError,
)
from prefect_haoee.tasks.ledger_entry import Store, done_entry, version_of
from prefect_haoee.tasks.ledger_local import DirStore, LocalLocks
from prefect_haoee.tasks.ledger_redis import RedisStore, redis_client
from prefect_haoee.tasks.ledger_s3 import S3Store
from prefect_haoee.tasks.per_process import PerProcess
from prefect_haoee.tasks.step_json import decode_step, encode_step

T = TypeVar("T")
logger = logging.getLogger("prefect_haoee.tasks")
POLL_FIRST, POLL_MAX, LOCAL_POLL = 0.05, 1.0, 0.02
Backend = Literal["auto", "s3", "file", "redis"]


class LedgerSettings(BaseSettings):
    """``HAOEE_LOCK_URL``, ``_DIR``, ``_LEASE_SECONDS``, ``_WAIT_SECONDS``, ``_FOLDER``."""

    model_config = SettingsConfigDict(env_prefix="HAOEE_LOCK_", extra="ignore")

    url: SecretStr = Field(default=SecretStr("auto"), description="may hold a password")
    dir: Path | None = None
    lease_seconds: float = Field(default=60.0, gt=0, le=24 * 3600)
    wait_seconds: float = Field(default=15 * 60.0, ge=0)
    folder: str = Field(default=".haoee-ledger", min_length=1)

    @property
    def backend(self) -> Backend:
        raw = self.url.get_secret_value().strip()
        scheme = urlsplit(raw).scheme.lower() if "://" in raw else raw.lower()
        if scheme in ("", "auto", "s3", "file"):
            return "auto" if scheme == "" else scheme  # type: ignore[return-value]
        if scheme in ("redis", "rediss", "unix"):
            return "redis"
        raise LockConfigurationError(
            f"HAOEE_LOCK_URL: unknown ledger backend {scheme!r} "
            "(use auto, s3, file, file:///DIR or redis://host:port/db)"
        )

    @property
    def directory(self) -> Path:
        raw = self.url.get_secret_value().strip()
        if raw.lower().startswith("file://") and urlsplit(raw).path:
            return Path(urlsplit(raw).path)
        return self.dir if self.dir is not None else Path(PREFECT_HOME.value()) / "haoee-locks"


def ledger_settings() -> LedgerSettings:
    """As the environment says now; a bad value is one located line."""
    try:
        return from_environment(LedgerSettings)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "HAOEE_LOCK_" + "_".join(str(p) for p in first["loc"]).upper()
        raise LockConfigurationError(f"{name}: {first['msg']}") from None


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """A paid step's answer and where it came from."""

    value: T
    reused: bool
    """True when it was read from the ledger (paid earlier, here or elsewhere)."""
    version: str | None = None
    """The entry's version: ``replace=`` it to pay again for this answer only."""
    paid_by: str | None = None
    paid_twice: bool = False
    """Our lease was lost while paying: another holder may have paid for it too."""


_local_locks = PerProcess(LocalLocks)


@dataclass(frozen=True)
class _Pending:
    """A paid answer not yet written to its entry (the store did not answer)."""

    holder: str
    step: dict[str, Any]
    expires: datetime
    payer: str


_PENDING: dict[tuple[str, str], _Pending] = {}
"""Answers paid in this process whose entry could not be finished, by store and key."""


class Ledger:
    """Paid steps in one store, serialised on this machine by its lock files."""

    def __init__(self, store: Store, locks: LocalLocks, settings: LedgerSettings) -> None:
        self.store = store
        self.locks = locks
        self.lease_seconds = settings.lease_seconds
        self.wait_seconds = settings.wait_seconds

    async def step(
        self,
        key: str | None,
        pay: Callable[[], Awaitable[T]],
        *,
        expiration: timedelta,
        payer: str,
        replace: str | None = None,
        scrub: Callable[[str], str] | None = None,
    ) -> Outcome[T]:
        """``pay()`` once per ``key`` across runs and machines (see the module docstring).

        ``key=None`` (a request with a random seed) pays every time and keeps nothing.
        ``replace`` is the version of a done entry to pay again for (its file URLs died);
        an entry done since with another version is that answer, read instead. ``scrub``
        cleans every text of the answer before it is written (the client's key)."""
        if key is None:
            return Outcome(await pay(), reused=False)
        deadline = time.monotonic() + self.wait_seconds
        while not self.locks.try_lock(key):
            if time.monotonic() > deadline:
                raise self._not_obtained(key, "another process on this machine")
            await asyncio.sleep(LOCAL_POLL)
        try:
            pending = _PENDING.get((self.store.where, key))
            if pending is not None:
                # An earlier attempt here paid and could not write the answer: finish it
                # now (or keep it) and read it, never pay again.
                finished = await self._finish(key, pending)
                value = decode_step(pending.step, f"{self.store.where}: entry {key!r}")
                version = version_of(
                    done_entry(key, pending.holder, pending.step, pending.expires, pending.payer)
                )
                return Outcome(value, True, version, pending.payer, paid_twice=not finished)
            holder = self.locks.new_holder()
            pause, said = POLL_FIRST, False
            while True:
                taken = await self._call("take", self.store.take, key, holder, replace)
                if taken.state == "done":
                    value = decode_step(taken.step, f"{self.store.where}: entry {key!r}")
                    return Outcome(value, True, taken.version, taken.paid_by)
                if taken.state == "held":
                    return await self._pay(key, holder, pay, expiration, payer, scrub)
                who = taken.holder or "another run"
                if not said:
                    said = True
                    _log().info("Paid step %s is held by %s: waiting for its answer", key, who)
                if time.monotonic() + pause > deadline:
                    raise self._not_obtained(key, who)
                await asyncio.sleep(pause)
                pause = min(pause * 1.5, POLL_MAX)
        finally:
            self.locks.unlock(key)

    async def _pay(
        self,
        key: str,
        holder: str,
        pay: Callable[[], Awaitable[T]],
        expiration: timedelta,
        payer: str,
        scrub: Callable[[str], str] | None,
    ) -> Outcome[T]:
        lost: list[bool] = []
        renewer = (
            asyncio.ensure_future(self._renew(key, holder, lost)) if self.store.leased else None
        )
        try:
            value = await pay()
        except BaseException:
            await _stopped(renewer)
            with anyio.CancelScope(shield=True):
                await self._quietly("abandon", self.store.abandon, key, holder)
            raise
        await _stopped(renewer)
        step = encode_step(value)
        if scrub is not None:
            step = map_strings(step, scrub, SCRUBBED_UP_TO)
        expires = datetime.now(timezone.utc) + expiration
        pending = _Pending(holder, step, expires, payer)
        finished = await self._finish(key, pending)
        if lost or not finished:
            _log().error(
                "The lease of paid step %s was lost while it was paid for (%s): another "
                "holder may have paid for it too",
                key,
                self.store.where,
            )
        version = version_of(done_entry(key, holder, step, expires, payer))
        return Outcome(value, False, version, payer, paid_twice=bool(lost) or not finished)

    async def _finish(self, key: str, pending: _Pending) -> bool:
        """Write a paid answer into its entry, retried with backoff for up to half a lease
        (our lease still runs: nobody takes the entry meanwhile). If the store stays down,
        the answer is kept in this process (:data:`_PENDING`): a task retry of the item
        finishes it and reads it instead of paying again."""
        deadline = time.monotonic() + self.lease_seconds / 2
        pause = 0.2
        while True:
            try:
                done: bool = await self._call(
                    "finish", self.store.finish, key, pending.holder, pending.step,
                    pending.expires, pending.payer,
                )  # fmt: skip
            except LockBackendError as exc:
                if time.monotonic() + pause > deadline:
                    _PENDING[(self.store.where, key)] = pending
                    _log().error(
                        "Paid step %s answered but its answer is not in the ledger yet (%s): "
                        "kept in this process for the item's retry",
                        key,
                        exc,
                    )
                    return True  # not lost to another holder
                await asyncio.sleep(pause)
                pause = min(pause * 2, 5.0)
                continue
            _PENDING.pop((self.store.where, key), None)
            return done

    async def _renew(self, key: str, holder: str, lost: list[bool]) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            try:
                alive = await anyio.to_thread.run_sync(self.store.renew, key, holder)
            except Exception as exc:  # noqa: BLE001 - try again; the lease still runs
                _log().warning("Renewing the lease of %s failed: %s", key, exc)
                continue
            if not alive:
                lost.append(True)
                return

    async def _call(self, what: str, fn: Callable[..., T], *args: Any) -> T:
        try:
            return await anyio.to_thread.run_sync(fn, *args)
        except HaoeeError:
            raise
        except Exception as exc:
            unpaid = ": the paid step was not run" if what == "take" else ""
            raise LockBackendError(
                f"The ledger at {self.store.where} did not answer "
                f"({what}: {type(exc).__name__}: {exc}){unpaid}"
            ) from exc

    async def _quietly(self, what: str, fn: Callable[..., Any], *args: Any) -> None:
        try:
            await self._call(what, fn, *args)
        except LockBackendError as exc:
            _log().warning("%s (the lease runs out on its own)", exc)

    def _not_obtained(self, key: str, who: str) -> LockNotObtainedError:
        return LockNotObtainedError(
            f"Paid step {key!r} is still held by {who} after {self.wait_seconds:.0f} s "
            f"({self.store.where}): the step was not run and nothing was paid; rerun later"
        )


async def _stopped(task: asyncio.Future[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


SCRUBBED_UP_TO = 65_536
"""Texts of an answer longer than this are inline file data (base64), kept as sent."""


def _log() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    """The run's logger (the line reaches the flow run's logs), else the module's."""
    try:
        return get_run_logger()
    except MissingContextError:
        return logger


def ledger_for(bucket: Any | None) -> Ledger:
    """The ledger of paid steps whose output goes to ``bucket`` (an ``S3Bucket`` block, or
    None for a step without one), as ``HAOEE_LOCK_*`` choose (the module docstring)."""
    settings = ledger_settings()
    locks = _local_locks(settings.directory)
    backend = settings.backend
    store: Store
    if backend == "redis":
        url = settings.url.get_secret_value().strip()
        store = RedisStore(
            redis_client(url), redact_url(url), settings.lease_seconds, locks.domain()
        )
    elif backend == "file" or (backend == "auto" and bucket is None):
        store = DirStore(settings.directory / "entries")
    elif bucket is None:
        raise LockConfigurationError(
            "HAOEE_LOCK_URL=s3 keeps paid steps in the output bucket, and this step has "
            "none: pass bucket= (or set HAOEE_LOCK_URL to file or redis://...)"
        )
    else:
        folder = "/".join(p for p in (bucket.bucket_folder.strip("/"), settings.folder) if p)
        client = bucket.credentials.get_s3_client()
        store = S3Store(client, bucket.bucket_name, folder, settings.lease_seconds, locks.domain())
    return Ledger(store, locks, settings)


def check_ledger() -> None:
    """Fail before a flow pays anything when ``HAOEE_LOCK_*`` cannot be used: a bad value
    (:class:`LockConfigurationError`), a Redis that does not answer (LockBackendError)."""
    settings = ledger_settings()
    if settings.backend != "redis":
        return
    url = settings.url.get_secret_value().strip()
    try:
        redis_client(url).ping()
    except HaoeeError:
        raise
    except Exception as exc:
        raise LockBackendError(
            f"HAOEE_LOCK_URL: the Redis ledger at {redact_url(url)} does not answer "
            f"({type(exc).__name__}): nothing was paid"
        ) from exc


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a ledger step from synchronous code (the fine-grained tasks), in Prefect's
    "run sync" event loop (works inside or outside a running loop)."""
    return run_coro_as_sync(coroutine)
