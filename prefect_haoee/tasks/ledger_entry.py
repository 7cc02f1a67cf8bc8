"""One ledger entry per paid step: its lease while it is paid for, its answer once paid.

An entry is a small JSON document, the same in every store (:mod:`.ledger_s3`,
:mod:`.ledger_local`, :mod:`.ledger_redis`)::

    {"format": "prefect-haoee/ledger", "key": "haoee-generate-<hash>",
     "state": "held", "holder": "<domain>/<uuid>", "host": ..., "pid": ...,
     "lease_seconds": 60, "renewals": 0}
    {"format": "prefect-haoee/ledger", "key": ..., "state": "done",
     "step": {...the committed answer, tasks.step_json...}, "expires_at": "...",
     "paid_by": "<flow run id>", "holder": ...}

A store answers three questions with one :class:`Taken` (the one protocol of the ledger):

* ``take(key, holder, replace)``: the entry was free, expired, or ``done`` with version
  ``replace`` (an answer whose file URLs died): it is **held** by us now; or it is
  **done** (the answer, whoever paid for it, whatever their own storage); or it is
  **busy** (another holder's lease is alive);
* ``renew`` while the paid call runs, ``finish(step)`` when it answered (False: the lease
  was lost to a takeover, the request may have been paid twice), ``abandon`` when it
  failed (the next taker goes on at once).

Everything read from a store is untrusted (anyone who can write to the bucket can plant
an entry): :func:`read_entry` caps sizes and depth, and a document that is not ours is
treated as a held entry that expires; a lease read from storage is capped at ours.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, Protocol

ENTRY_FORMAT = "prefect-haoee/ledger"
MAX_ENTRY_BYTES = 100_000_000
"""An entry holds one answer: a few URLs, or inline images within the client's answer cap
(``HAOEE_MAX_ANSWER_BYTES``, 64 MiB) plus their JSON. Larger is not ours, and not read."""
SUBMIT_EXPIRATION = timedelta(hours=11)
"""A committed task id: below the 12 h after which the gateway forgets it."""
RESULT_URL_EXPIRATION = timedelta(hours=23)
"""A committed answer: below the 24 h lifetime of its file URLs."""


def step_key(step: str, request_hash: str) -> str:
    """The ledger key of one paid step of one request (``haoee-<step>-<hash>``)."""
    return f"haoee-{step}-{request_hash}"


@dataclass(frozen=True)
class Taken:
    """What ``take`` found: ``held`` (pay now), ``done`` (the answer) or ``busy``."""

    state: Literal["held", "done", "busy"]
    step: dict[str, Any] | None = None
    """The committed answer (``done``)."""
    version: str | None = None
    """Of a ``done`` entry: pass it as ``replace`` to pay again for this answer only."""
    paid_by: str | None = None
    holder: str | None = None
    """Of a ``busy`` entry: who holds it (for the log line)."""


class Store(Protocol):
    """Where entries live; every method may block (the ledger calls them in a thread)."""

    where: str
    """Said in messages: ``s3://bucket/folder``, a directory, ``redis://host``."""
    leased: bool
    """True when a held entry can outlive its holder (it has a lease to renew)."""

    def take(self, key: str, holder: str, replace: str | None) -> Taken: ...

    def renew(self, key: str, holder: str) -> bool: ...

    def finish(
        self, key: str, holder: str, step: dict[str, Any], expires: datetime, paid_by: str
    ) -> bool: ...

    def abandon(self, key: str, holder: str) -> None: ...


def held_body(key: str, holder: str, lease_seconds: float, **extra: Any) -> bytes:
    doc = {
        "format": ENTRY_FORMAT,
        "key": key,
        "state": "held",
        "holder": holder,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "lease_seconds": lease_seconds,
        **extra,
    }
    return json.dumps(doc, sort_keys=True).encode()


def done_entry(
    key: str, holder: str, step: dict[str, Any], expires: datetime, paid_by: str
) -> dict[str, Any]:
    return {
        "format": ENTRY_FORMAT,
        "key": key,
        "state": "done",
        "holder": holder,
        "step": step,
        "expires_at": expires.astimezone(timezone.utc).isoformat(),
        "paid_by": paid_by,
    }


def done_body(
    key: str, holder: str, step: dict[str, Any], expires: datetime, paid_by: str
) -> bytes:
    return json.dumps(done_entry(key, holder, step, expires, paid_by), sort_keys=True).encode()


def read_entry(body: bytes | str | None) -> dict[str, Any]:
    """The entry in ``body``, or ``{}`` for anything that is not one of ours."""
    if body is None or len(body) > MAX_ENTRY_BYTES:
        return {}
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return {}
    if not isinstance(doc, dict) or doc.get("format") != ENTRY_FORMAT:
        return {}
    return doc


def lease_of(entry: dict[str, Any], ours: float) -> float:
    """The lease an entry claims, never longer than ours (a planted entry cannot hold a
    request for a day); one second more for HTTP dates' whole seconds."""
    value = entry.get("lease_seconds")
    claimed = float(value) if isinstance(value, (int, float)) and value > 0 else ours
    return min(claimed, ours) + 1.0


def expires_at(entry: dict[str, Any]) -> datetime | None:
    value = entry.get("expires_at")
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def version_of(entry: dict[str, Any]) -> str:
    """A done entry's version: the hash of its answer and expiry (each payment differs)."""
    blob = json.dumps([entry.get("step"), entry.get("expires_at")], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def done_unless_free(entry: dict[str, Any], now: datetime, replace: str | None) -> Taken | None:
    """A ``done`` entry's answer, or None when the entry may be taken (not done, expired,
    or the version the caller replaces)."""
    if entry.get("state") != "done":
        return None
    expiry = expires_at(entry)
    step = entry.get("step")
    if expiry is None or expiry <= now or not isinstance(step, dict):
        return None
    version = version_of(entry)
    if replace is not None and replace == version:
        return None
    paid_by = entry.get("paid_by")
    return Taken("done", step, version, paid_by if isinstance(paid_by, str) else None)


def stale_for(entry: dict[str, Any], domain: str | None) -> bool:
    """A held entry of this machine's lock domain, seen while we hold the machine's lock
    of its key: its holder died (it released that lock without finishing)."""
    holder = entry.get("holder")
    return bool(domain) and isinstance(holder, str) and holder.startswith(f"{domain}/")
