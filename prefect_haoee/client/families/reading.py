"""Walking a family's answers: status normalisation, progress, ids and file links."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import httpx

from prefect_haoee.client.errors import TransportError

JobStatus = Literal["queued", "running", "succeeded", "failed"]
"""Every family's task status, normalised."""

# -- status normalisation -----------------------------------------------------------------

COMMON_STATUSES: Mapping[str, JobStatus] = {
    "queued": "queued",
    "queue": "queued",
    "queueing": "queued",
    "in_queue": "queued",
    "pending": "queued",
    "submitted": "queued",
    "not_start": "queued",
    "not_started": "queued",
    "waiting": "queued",
    "created": "queued",
    "in_progress": "running",
    "processing": "running",
    "running": "running",
    "generating": "running",
    "preparing": "running",
    "streaming": "running",
    "started": "running",
    "completed": "succeeded",
    "complete": "succeeded",
    "succeeded": "succeeded",
    "succeed": "succeeded",
    "success": "succeeded",
    "done": "succeeded",
    "finished": "succeeded",
    "failed": "failed",
    "failure": "failed",
    "fail": "failed",
    "error": "failed",
    "cancelled": "failed",
    "canceled": "failed",
    "expired": "failed",
}


def normalise_status(raw: Any, table: Mapping[str, JobStatus] | None = None) -> JobStatus:
    """Map a gateway status onto :data:`JobStatus` (family table first, then the common one).

    An unknown status is a :class:`TransportError`: better a clear error than a job that
    waits until its deadline because a status string was misread.
    """
    key = str(raw).strip().lower().replace(" ", "_").replace("-", "_") if raw is not None else ""
    for source in (table or {}, COMMON_STATUSES):
        lowered = {k.lower(): v for k, v in source.items()}
        if key in lowered:
            return lowered[key]
    raise TransportError(f"the gateway answered an unknown job status {raw!r}")


def parse_progress(value: Any) -> float | None:
    """``"45%"`` / ``45`` / ``0.45`` -> 0.45 (None if absent or unreadable)."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip().rstrip("%")
    try:
        number = float(text)
    except ValueError:
        return None
    if isinstance(value, str) and str(value).strip().endswith("%") or number > 1:
        number /= 100
    return max(0.0, min(1.0, number))


# -- walking answers ------------------------------------------------------------------------


def unwrap(payload: Any, *keys: str) -> Any:
    """``payload[k1][k2]...`` through dicts; None when a step is missing."""
    current = payload
    for key in keys:
        if not isinstance(current, dict):
            return None
        current = current.get(key)
    return current


def first_present(mapping: Any, *keys: str) -> Any:
    if not isinstance(mapping, dict):
        return None
    for key in keys:
        value = mapping.get(key)
        if value not in (None, ""):
            return value
    return None


def collect_strings(
    value: Any, keys: frozenset[str], *, list_keys: frozenset[str] = frozenset(), depth: int = 6
) -> list[str]:
    """Every non-empty string under one of ``keys`` (or in a list under ``list_keys``)."""
    found: list[str] = []

    def walk(node: Any, level: int) -> None:
        if level > depth:
            return
        if isinstance(node, dict):
            for key, child in node.items():
                if key in keys and isinstance(child, str) and child:
                    found.append(child)
                elif key in list_keys and isinstance(child, list):
                    found.extend(c for c in child if isinstance(c, str) and c)
                else:
                    walk(child, level + 1)
        elif isinstance(node, list):
            for child in node:
                walk(child, level + 1)

    walk(value, 0)
    return list(dict.fromkeys(found))


def submitted_id(payload: Any, *keys: str) -> str:
    """A job id from ``{"<key>": id}``, ``{"data": "id"}`` or ``{"data": {"<key>": id}}``."""
    keys = keys or ("task_id",)
    candidates: list[Any] = []
    if isinstance(payload, dict):
        candidates += [payload.get(k) for k in keys]
        data = payload.get("data")
        if isinstance(data, (str, int)) and not isinstance(data, bool):
            candidates.append(data)
        elif isinstance(data, dict):
            candidates += [data.get(k) for k in keys]
    for value in candidates:
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
    raise TransportError(f"the submission was accepted without a job id ({_shape(payload)})")


def _shape(payload: Any) -> str:
    if isinstance(payload, dict):
        return "keys: " + ", ".join(sorted(str(k) for k in payload)[:12])
    return type(payload).__name__


def encode_multipart(
    fields: Mapping[str, str], files: list[tuple[str, tuple[str, bytes, str]]]
) -> tuple[bytes, str]:
    """A ``multipart/form-data`` body and its ``Content-Type`` (with the boundary)."""
    request = httpx.Request("POST", "http://multipart.invalid/", data=dict(fields), files=files)
    return request.read(), request.headers["Content-Type"]


GATEWAY_TASK_STATUSES: Mapping[str, JobStatus] = {
    "NOT_START": "queued",
    "SUBMITTED": "queued",
    "QUEUED": "queued",
    "IN_PROGRESS": "running",
    "SUCCESS": "succeeded",
    "FAILURE": "failed",
}
"""The gateway's own task convention (suno, image tasks, MiniMax's gateway form)."""
