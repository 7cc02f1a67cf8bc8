"""Typed gateway answers: the envelope and what each action returns in ``data``."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

TaskStatus = Literal["in_queue", "generating", "done", "not_found", "expired"]

_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


def parse_go_duration(text: str | None) -> float | None:
    """``"7.545501615s"`` / ``"104.852309ms"`` / ``"1m2.5s"`` -> seconds (None if unparsable)."""
    if not text:
        return None
    parts = _GO_DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        return None
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)


class Envelope(BaseModel):
    """The Volcengine visual envelope: ``code`` 10000 means success, whatever the HTTP status."""

    model_config = ConfigDict(extra="allow")

    code: int
    message: str = ""
    request_id: str | None = None
    status: int | None = None
    time_elapsed: str | None = None
    data: dict[str, Any] | None = None

    @property
    def elapsed_seconds(self) -> float | None:
        return parse_go_duration(self.time_elapsed)


class GeneratedImages(BaseModel):
    """Images from a CVProcess answer or a finished async task.

    The gateway returns either URLs (``return_url=true``, valid about 24 h) or inline
    base64; some models return only base64. Base64 payloads stay out of reprs.
    """

    model_config = ConfigDict(frozen=True)

    urls: list[str] = Field(default_factory=list)
    base64: list[str] = Field(default_factory=list, repr=False)
    request_id: str | None = None
    time_elapsed_s: float | None = None
    extras: dict[str, Any] = Field(default_factory=dict, repr=False)
    """Model extras: ``rephraser_result``, ``pe_result``, ``infer_ctx`` ..."""

    @property
    def count(self) -> int:
        return len(self.base64) if self.base64 else len(self.urls)

    def sources(self) -> list[str]:
        """One download source per image: base64 wins when both are present (as upstream)."""
        return list(self.base64) if self.base64 else list(self.urls)

    @classmethod
    def from_envelope(cls, env: Envelope) -> GeneratedImages:
        data = dict(env.data or {})
        urls = data.pop("image_urls", None) or []
        b64 = data.pop("binary_data_base64", None) or []
        data.pop("status", None)
        return cls(
            urls=[u for u in urls if u],
            base64=[b for b in b64 if b],
            request_id=env.request_id,
            time_elapsed_s=env.elapsed_seconds,
            extras=data,
        )


class SubmitResult(BaseModel):
    """An accepted async submission: poll ``task_id`` with the same ``req_key``."""

    model_config = ConfigDict(frozen=True)

    req_key: str
    task_id: str
    request_id: str | None = None


class TaskResult(BaseModel):
    """One poll of an async task."""

    model_config = ConfigDict(frozen=True)

    req_key: str
    task_id: str
    status: TaskStatus
    images: GeneratedImages | None = None
    request_id: str | None = None

    @property
    def finished(self) -> bool:
        return self.status not in ("in_queue", "generating")
