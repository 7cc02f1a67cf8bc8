"""Result URLs: ``GET /files/{id}.{ext}`` links that expire after ``url_ttl_s``."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Literal

from prefect_haoee.simulator.clock import SimClock
from prefect_haoee.simulator.images import RenderSpec

FileState = Literal["ok", "expired", "not_found"]


@dataclass
class FileRecord:
    render: RenderSpec
    created: float
    forced_expired: bool = False


class FileStore:
    def __init__(self, clock: SimClock, url_ttl_s: float) -> None:
        self._clock = clock
        self._ttl = url_ttl_s
        self._files: dict[str, FileRecord] = {}
        self._mints = 0
        self.served = 0
        self.expired_hits = 0

    def mint(self, render: RenderSpec, base_url: str, *, expired: bool = False) -> str:
        """Register a file and return its absolute URL (``base_url`` ends with ``/``)."""
        self._mints += 1
        if self._mints % 1000 == 0:
            self._prune()
        file_id = secrets.token_hex(12)
        self._files[file_id] = FileRecord(render, self._clock.monotonic(), expired)
        return f"{base_url}files/{file_id}.{render.extension}"

    def lookup(self, name: str) -> tuple[FileState, FileRecord | None]:
        file_id = name.split(".", 1)[0]
        record = self._files.get(file_id)
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
