"""Result URLs: ``GET /files/{id}.{ext}`` (images) and ``/files/media/{id}.{ext}`` (video,
audio) links that expire after ``url_ttl_s``. One store type serves both."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Generic, Literal, Protocol, TypeVar

from prefect_haoee.simulator.clock import SimClock

FileState = Literal["ok", "expired", "not_found"]


class Servable(Protocol):
    @property
    def extension(self) -> str: ...


T = TypeVar("T", bound=Servable)


@dataclass
class FileRecord(Generic[T]):
    payload: T
    """What to render when the link is fetched (a RenderSpec or a MediaSpec)."""
    created: float
    forced_expired: bool = False


class FileStore(Generic[T]):
    """Expiring links under ``{base_url}{path}{id}.{ext}``."""

    def __init__(self, clock: SimClock, url_ttl_s: float, path: str = "files/") -> None:
        self._clock = clock
        self._ttl = url_ttl_s
        self._path = path
        self._files: dict[str, FileRecord[T]] = {}
        self._mints = 0
        self.served = 0
        self.expired_hits = 0

    def mint(self, payload: T, base_url: str, *, expired: bool = False) -> str:
        """Register a file and return its absolute URL (``base_url`` ends with ``/``)."""
        self._mints += 1
        if self._mints % 1000 == 0:
            self._prune()
        file_id = secrets.token_hex(12)
        self._files[file_id] = FileRecord(payload, self._clock.monotonic(), expired)
        return f"{base_url}{self._path}{file_id}.{payload.extension}"

    def lookup(self, name: str) -> tuple[FileState, FileRecord[T] | None]:
        record = self._files.get(name.split(".", 1)[0])
        if record is None:
            return "not_found", None
        if record.forced_expired or self._clock.monotonic() - record.created > self._ttl:
            self.expired_hits += 1
            return "expired", record
        self.served += 1
        return "ok", record

    def _prune(self) -> None:
        # Forget links long past their lifetime so a long run keeps bounded memory.
        edge = self._clock.monotonic() - 2 * self._ttl
        for file_id in [k for k, r in self._files.items() if r.created < edge]:
            del self._files[file_id]

    def __len__(self) -> int:
        return len(self._files)
