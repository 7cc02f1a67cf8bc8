"""This machine's part of the ledger: a lock file per paid step, and entries in a directory.

:class:`LocalLocks` holds an operating-system lock (``flock`` on POSIX, ``LockFileEx`` on
Windows, through filelock's ``lock_descriptor``) on one file per key under
``HAOEE_LOCK_DIR``. The kernel releases it when its process dies, so a SIGKILL never
leaves a stale lock, and every process of this machine that pays for a key waits here
first: the shared store sees at most one taker per machine. The directory has a random
``domain-id``; holders are ``<domain>/<uuid>``, so a held entry of our domain seen while we
hold its file lock is stale (its holder died) and is taken at once, not after its lease.

:class:`DirStore` keeps entries as files in a directory (``HAOEE_LOCK_URL=file``, or the
fine-grained tasks without an output bucket): one machine only. Under the file lock of
its key nobody else is taking it, so a held entry needs no file: ``take`` reads the done
entry, ``finish`` writes it atomically (a temporary file renamed over it).
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from filelock import lock_descriptor, unlock_descriptor

from prefect_haoee.tasks.errors import LockConfigurationError
from prefect_haoee.tasks.ledger_entry import (
    MAX_ENTRY_BYTES,
    Taken,
    done_body,
    done_unless_free,
    read_entry,
)


class LocalLocks:
    """Exclusive per-key locks on files under ``directory`` (one machine, crash-safe)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._held: dict[str, int] = {}
        self._mutex = threading.Lock()
        self._domain: str | None = None

    def domain(self) -> str:
        """A random id of this lock directory, created once (the first writer's wins)."""
        if self._domain is not None:
            return self._domain
        path = self.directory / "domain-id"
        if not path.exists():
            self.directory.mkdir(parents=True, exist_ok=True)
            draft = self.directory / f".domain-id.{os.getpid()}.{threading.get_ident()}"
            draft.write_text(uuid.uuid4().hex)
            try:
                os.link(draft, path)
            except FileExistsError:
                pass
            finally:
                draft.unlink()
        self._domain = path.read_text().strip()
        return self._domain

    def new_holder(self) -> str:
        return f"{self.domain()}/{uuid.uuid4().hex}"

    def try_lock(self, key: str) -> bool:
        """Take ``key``'s lock without waiting; False when any holder (this process
        included) has it."""
        name = hashlib.sha256(key.encode()).hexdigest()[:40]
        with self._mutex:
            if key in self._held:
                return False
            path = self.directory / f"{name}.lock"
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            except FileNotFoundError:  # the first lock here (or the directory was removed)
                self.directory.mkdir(parents=True, exist_ok=True)
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                locked = lock_descriptor(fd, blocking=False)
            except OSError as exc:
                os.close(fd)
                raise LockConfigurationError(
                    f"File locks are not available in {self.directory} ({exc}): set "
                    "HAOEE_LOCK_DIR to a local directory"
                ) from exc
            if not locked:
                os.close(fd)
                return False
            self._held[key] = fd
            return True

    def unlock(self, key: str) -> None:
        with self._mutex:
            fd = self._held.pop(key, None)
        if fd is not None:
            unlock_descriptor(fd)
            os.close(fd)


class DirStore:
    """Ledger entries as files in one directory (see the module docstring)."""

    leased = False

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.where = str(directory)

    def _path(self, key: str) -> Path:
        if not key or "/" in key or "\\" in key or key.startswith("."):
            raise ValueError(f"ledger key {key!r} is not a plain file name")
        return self.directory / f"{key}.json"

    def take(self, key: str, holder: str, replace: str | None) -> Taken:
        path = self._path(key)
        try:
            with path.open("rb") as handle:
                body = handle.read(MAX_ENTRY_BYTES + 1)
        except FileNotFoundError:
            return Taken("held")
        found = done_unless_free(read_entry(body), datetime.now(timezone.utc), replace)
        return found or Taken("held")

    def renew(self, key: str, holder: str) -> bool:
        return True

    def finish(
        self, key: str, holder: str, step: dict[str, Any], expires: datetime, paid_by: str
    ) -> bool:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            scratch.write_bytes(done_body(key, holder, step, expires, paid_by))
            os.replace(scratch, path)
        finally:
            scratch.unlink(missing_ok=True)
        return True

    def abandon(self, key: str, holder: str) -> None:
        return None
