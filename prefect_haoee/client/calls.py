"""One gateway exchange, built without I/O (sans-IO): every adapter's calls are these."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Purpose = Literal["generate", "submit", "poll", "file"]
"""Why a call is made: ``generate``/``submit`` are paid, ``poll``/``file`` are free."""

PAID_PURPOSES: frozenset[str] = frozenset({"generate", "submit"})


@dataclass(frozen=True)
class HttpCall:
    """One gateway exchange, ready to send (paths are relative to the base URL).

    ``family`` names the adapter whose reader interprets the answer; ``name`` replaces
    the ``METHOD path`` label in logs (the visual API names its calls by Action).
    """

    family: str
    purpose: Purpose
    method: Literal["GET", "POST"]
    path: str
    params: tuple[tuple[str, str], ...] = ()
    json: dict[str, Any] | None = field(default=None, hash=False)
    content: bytes | None = field(default=None, repr=False)
    content_type: str | None = None
    extra_headers: tuple[tuple[str, str], ...] = ()
    name: str | None = None

    @property
    def label(self) -> str:
        return self.name or f"{self.method} {self.path}"

    @property
    def paid(self) -> bool:
        return self.purpose in PAID_PURPOSES

    @property
    def headers(self) -> dict[str, str]:
        headers = dict(self.extra_headers)
        if self.content_type:
            headers["Content-Type"] = self.content_type
        return headers
