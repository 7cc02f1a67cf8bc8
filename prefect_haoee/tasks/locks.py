"""The lock manager behind SERIALIZABLE paid steps.

Prefect's own ``FileSystemLockManager`` creates a lock file empty and fills it afterwards,
so a concurrent reader can parse an empty file and fail; and a process killed while holding
a lock leaves the file behind, blocking every rerun. :class:`FlockLockManager` instead holds
an operating-system lock on the lock file (``flock`` on POSIX, ``LockFileEx`` on Windows,
through filelock's ``lock_descriptor``, so the package imports where ``fcntl`` does not
exist): atomic, and released by the kernel when the holding process dies, so a SIGKILL
never leaves a stale lock. It serves the processes of one
machine; for workers on many machines, give :func:`set_lock_manager` a distributed one
(e.g. prefect-redis's ``RedisLockManager``).

:data:`LOCK_MANAGER` resolves its backend on every call, so :func:`set_lock_manager` also
reaches tasks whose cache policies were built at import time.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import os
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from filelock import lock_descriptor, unlock_descriptor
from prefect.locking.protocol import LockManager

from prefect_haoee.tasks.errors import LockConfigurationError, LockNotObtainedError
from prefect_haoee.tasks.lock_settings import lock_settings
from prefect_haoee.tasks.per_process import PerProcess

POLL_SECONDS = 0.02


def _deadline(timeout: float | None) -> float:
    return math.inf if timeout is None else time.monotonic() + timeout


def poll_until(done: Callable[[], bool], timeout: float | None) -> bool:
    """True as soon as ``done()`` is, False once ``timeout`` seconds passed (None: never)."""
    deadline = _deadline(timeout)
    while not (ok := done()) and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
    return ok


async def apoll_until(done: Callable[[], bool], timeout: float | None) -> bool:
    """:func:`poll_until`, sleeping in the event loop."""
    deadline = _deadline(timeout)
    while not (ok := done()) and time.monotonic() < deadline:
        await asyncio.sleep(POLL_SECONDS)
    return ok


def _try_lock(fd: int) -> bool:
    """Take the exclusive OS lock on ``fd`` without waiting; False when another holds it."""
    try:
        return lock_descriptor(fd, blocking=False)
    except OSError as exc:
        raise LockConfigurationError(
            f"File locks are not available here ({exc}): set HAOEE_LOCK_URL to a shared "
            "backend (s3, redis://...) for paid steps"
        ) from exc


class FlockLockManager:
    """Exclusive locks on files under ``directory`` via ``flock`` (one machine, crash-safe)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._held: dict[str, tuple[str, int]] = {}
        self._mutex = threading.Lock()
        self._domain: str | None = None
        """Read once: the id file is written once and never changes."""

    def domain(self) -> str:
        """A random id of this lock directory, created once (the holders it excludes).

        A claim elsewhere (S3, Redis) tagged with it, seen while we hold the file lock of
        its key, is stale: its holder released that file lock, so it died or could not
        release the claim. It is taken over at once instead of after its lease.
        """
        if self._domain is not None:
            return self._domain
        path = self.directory / "domain-id"
        try:
            self._domain = path.read_text().strip()
            return self._domain
        except FileNotFoundError:
            pass
        self.directory.mkdir(parents=True, exist_ok=True)
        draft = self.directory / f".domain-id.{os.getpid()}.{threading.get_ident()}"
        draft.write_text(uuid.uuid4().hex)
        try:
            os.link(draft, path)  # atomic: the first writer's id wins
        except FileExistsError:
            pass
        finally:
            draft.unlink()
        self._domain = path.read_text().strip()
        return self._domain

    def _path(self, key: str) -> Path:
        name = hashlib.sha256(key.encode()).hexdigest()[:40]
        return self.directory / f"{name}.lock"

    def _try_acquire(self, key: str, holder: str) -> bool:
        with self._mutex:
            if key in self._held:
                return self._held[key][0] == holder
            self.directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._path(key), os.O_RDWR | os.O_CREAT, 0o644)
            locked = False
            try:
                locked = _try_lock(fd)
            finally:
                if not locked:
                    os.close(fd)
            if not locked:
                return False
            self._held[key] = (holder, fd)
            return True

    def acquire_lock(
        self,
        key: str,
        holder: str,
        acquire_timeout: float | None = None,
        hold_timeout: float | None = None,
    ) -> bool:
        return poll_until(lambda: self._try_acquire(key, holder), acquire_timeout)

    async def aacquire_lock(
        self,
        key: str,
        holder: str,
        acquire_timeout: float | None = None,
        hold_timeout: float | None = None,
    ) -> bool:
        return await apoll_until(lambda: self._try_acquire(key, holder), acquire_timeout)

    def release_lock(self, key: str, holder: str) -> None:
        # An EAGER child transaction releases its lock when it commits and its parent's
        # commit releases it again: releasing a lock one does not hold is a no-op.
        with self._mutex:
            held = self._held.get(key)
            if held is None or held[0] != holder:
                return
            del self._held[key]
            unlock_descriptor(held[1])
            os.close(held[1])

    def is_locked(self, key: str) -> bool:
        with self._mutex:
            if key in self._held:
                return True
            path = self._path(key)
            if not path.exists():
                return False
            fd = os.open(path, os.O_RDWR)
            try:
                if not _try_lock(fd):
                    return True
                unlock_descriptor(fd)
                return False
            finally:
                os.close(fd)

    def is_lock_holder(self, key: str, holder: str) -> bool:
        with self._mutex:
            held = self._held.get(key)
            return held is not None and held[0] == holder

    def wait_for_lock(self, key: str, timeout: float | None = None) -> bool:
        return poll_until(lambda: not self.is_locked(key), timeout)

    async def await_for_lock(self, key: str, timeout: float | None = None) -> bool:
        return await apoll_until(lambda: not self.is_locked(key), timeout)


_BACKEND: LockManager | None = None
file_locks = PerProcess(FlockLockManager)
"""The process's one manager of the lock files under a directory."""


def local_domain() -> str | None:
    """The file locks' domain (see :meth:`FlockLockManager.domain`), None for a manager
    installed with :func:`set_lock_manager`."""
    backend = _backend()
    return backend.domain() if isinstance(backend, FlockLockManager) else None


def new_holder() -> str:
    """A holder id for one lock or claim: ``<lock domain>/<random>`` (the domain tells a
    stale claim of this machine's, see :meth:`FlockLockManager.domain`)."""
    domain = local_domain()
    return f"{domain}/{uuid.uuid4().hex}" if domain else uuid.uuid4().hex


def _backend() -> LockManager:
    if _BACKEND is not None:
        return _BACKEND
    return file_locks(lock_settings().directory)


def set_lock_manager(manager: LockManager | None) -> None:
    """Use another machine-local backend (Python only); ``None`` returns to file locks
    under ``HAOEE_LOCK_DIR`` (default ``$PREFECT_HOME/haoee-locks``). A worker chooses its
    cross-machine guard with ``HAOEE_LOCK_URL`` instead (see ``tasks.lock_settings``)."""
    global _BACKEND
    _BACKEND = manager


def not_obtained(key: str, wait: float) -> LockNotObtainedError:
    return LockNotObtainedError(
        f"Lock of paid step {key!r} not obtained within {wait:.0f} s (another run holds it): "
        "the step was not run and nothing was paid; rerun later"
    )


def _obtained(obtained: bool, key: str, wait: float) -> bool:
    if not obtained:
        raise not_obtained(key, wait)
    return True


class ConfiguredLockManager:
    """Forwards to the configured backend; waits are bounded by ``wait_seconds``.

    A lock not obtained raises :class:`LockNotObtainedError` instead of answering False:
    Prefect's transactions (the fine-grained tasks' SERIALIZABLE cache) ignore the
    answer, and would otherwise run the paid call unlocked.
    """

    def __init__(self, wait_seconds: float | None = None) -> None:
        self.fixed_wait = wait_seconds

    @property
    def wait_seconds(self) -> float:
        """The fixed wait, else ``HAOEE_LOCK_WAIT_SECONDS`` (default 15 min)."""
        return self.fixed_wait if self.fixed_wait is not None else lock_settings().wait_seconds

    def _wait(self, timeout: float | None) -> float:
        return timeout if timeout is not None else self.wait_seconds

    def acquire_lock(
        self,
        key: str,
        holder: str,
        acquire_timeout: float | None = None,
        hold_timeout: float | None = None,
    ) -> bool:
        wait = self._wait(acquire_timeout)
        return _obtained(_backend().acquire_lock(key, holder, wait, hold_timeout), key, wait)

    async def aacquire_lock(
        self,
        key: str,
        holder: str,
        acquire_timeout: float | None = None,
        hold_timeout: float | None = None,
    ) -> bool:
        wait = self._wait(acquire_timeout)
        obtained = await _backend().aacquire_lock(key, holder, wait, hold_timeout)
        return _obtained(obtained, key, wait)

    def release_lock(self, key: str, holder: str) -> None:
        backend = _backend()
        if backend.is_lock_holder(key, holder):
            backend.release_lock(key, holder)

    def is_locked(self, key: str) -> bool:
        return _backend().is_locked(key)

    def is_lock_holder(self, key: str, holder: str) -> bool:
        return _backend().is_lock_holder(key, holder)

    def wait_for_lock(self, key: str, timeout: float | None = None) -> bool:
        return _backend().wait_for_lock(key, self._wait(timeout))

    async def await_for_lock(self, key: str, timeout: float | None = None) -> bool:
        return await _backend().await_for_lock(key, self._wait(timeout))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ConfiguredLockManager) and other.fixed_wait == self.fixed_wait

    def __hash__(self) -> int:
        return hash((type(self), self.fixed_wait))


LOCK_MANAGER = ConfiguredLockManager()
