"""Cross-machine paid-step locks as claim objects in the output bucket (no service to run).

One object per paid step, ``<bucket_folder>/.haoee-claims/<step key>.json``:

* **take**: ``PutObject`` with ``If-None-Match: *`` writes ``{"state": "held", holder,
  lease_seconds}``; S3 accepts exactly one of several concurrent writers (412 for the
  others);
* **renew** while the paid call runs: ``PutObject`` with ``If-Match: <our ETag>`` (each body
  differs, so each ETag does); a 412 means the lease was lost to a takeover;
* **expire**: a held claim whose ``LastModified + lease_seconds`` is past the S3 server's
  own clock (the ``Date`` of the answer: no clock of ours is compared) is taken over with
  ``If-Match: <its ETag>``, again by one writer only;
* **release**: the holder rewrites the claim as ``{"state": "done", "step": <the committed
  step document>, "expires_at"}`` (``If-Match``), so a machine that waited reads the answer
  it would have paid for, whatever its own result storage; a holder whose call failed
  deletes its claim (``If-Match``) so the next one proceeds at once.

Conditional writes are atomic on S3 (and on S3-compatible stores that implement them);
moto's server checks the condition and writes without a lock between them, so two writes
within microseconds could both pass there.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from botocore.exceptions import ClientError

CLAIM_FORMAT = "prefect-haoee/claim"
CLAIM_VERSION = 1
_CONFLICT_CODES = {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}


@dataclass(frozen=True)
class Attempt:
    """One try at a claim: held now, or a step another machine committed, or neither."""

    acquired: bool
    committed: dict[str, Any] | None = None


def conflict(exc: ClientError) -> bool:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in _CONFLICT_CODES or status in (409, 412)


def missing(exc: ClientError) -> bool:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in ("NoSuchKey", "404", "NotFound") or status == 404


def server_now(response: dict[str, Any]) -> datetime:
    """The S3 server's clock, from the ``Date`` header of its answer (ours if absent)."""
    date = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    if date:
        try:
            return parsedate_to_datetime(date).astimezone(timezone.utc)
        except (TypeError, ValueError):
            pass
    return datetime.now(timezone.utc)


class S3Claims:
    """Claims of paid steps in one bucket (an ``S3Bucket`` block's client and folder)."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        folder: str,
        lease_seconds: float,
        domain: str | None = None,
    ) -> None:
        self.client = client
        self.domain = domain
        """Holders ``<domain>/...`` are excluded by our file lock: their claims are stale
        whenever we hold that lock (see ``FlockLockManager.domain``)."""
        self.bucket = bucket
        self.folder = folder.strip("/")
        self.lease_seconds = lease_seconds
        self._etags: dict[tuple[str, str], str] = {}
        self._renewals: dict[tuple[str, str], int] = {}
        self._mutex = threading.Lock()

    def object_key(self, key: str) -> str:
        return f"{self.folder}/{key}.json" if self.folder else f"{key}.json"

    def _body(self, key: str, holder: str, **extra: Any) -> bytes:
        doc = {
            "format": CLAIM_FORMAT,
            "version": CLAIM_VERSION,
            "key": key,
            "holder": holder,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "lease_seconds": self.lease_seconds,
            **extra,
        }
        return json.dumps(doc, sort_keys=True).encode()

    def _put(self, key: str, holder: str, body: bytes, **condition: str) -> str | None:
        """Conditional put; the new ETag, or None when the condition failed."""
        try:
            answer = self.client.put_object(
                Bucket=self.bucket,
                Key=self.object_key(key),
                Body=body,
                ContentType="application/json",
                **condition,
            )
        except ClientError as exc:
            if conflict(exc) or (condition.get("IfMatch") and missing(exc)):
                return None
            raise
        etag = str(answer["ETag"])
        with self._mutex:
            self._etags[(key, holder)] = etag
        return etag

    def try_acquire(self, key: str, holder: str, overwrite: bool) -> Attempt:
        """Take the claim if it is free or expired; report a step committed under it."""
        renewal = {"state": "held", "renewals": 0}
        if self._put(key, holder, self._body(key, holder, **renewal), IfNoneMatch="*"):
            return Attempt(acquired=True)
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.object_key(key))
        except ClientError as exc:
            if missing(exc):  # released between our put and our read: try again
                return Attempt(acquired=False)
            raise
        body = answer["Body"].read(1_000_000)
        etag = str(answer["ETag"])
        now = server_now(answer)
        try:
            doc = json.loads(body)
        except ValueError:
            doc = {}
        if not isinstance(doc, dict) or doc.get("format") != CLAIM_FORMAT:
            doc = {}  # not ours or damaged: it expires like a held claim of ours
        if doc.get("state") == "done":
            expires = parse_time(doc.get("expires_at"))
            if not overwrite and (expires is None or expires > now):
                # A committed step: the caller decodes it (a damaged one is an error there,
                # never a reason to pay again).
                step = doc.get("step")
                return Attempt(acquired=False, committed=step if isinstance(step, dict) else {})
            # expired, or to be replaced (overwrite): free to take, one writer wins
        else:
            # HTTP dates have whole seconds: allow one more before calling a lease expired.
            lease = _number(doc.get("lease_seconds"), self.lease_seconds) + 1.0
            modified = answer.get("LastModified")
            alive = isinstance(modified, datetime) and (
                modified.astimezone(timezone.utc) + timedelta(seconds=lease) > now
            )
            ours = bool(self.domain) and str(doc.get("holder", "")).startswith(f"{self.domain}/")
            if alive and not ours:
                return Attempt(acquired=False)
        body = self._body(key, holder, state="held", renewals=0, took_over=etag)
        return Attempt(acquired=self._put(key, holder, body, IfMatch=etag) is not None)

    def leave_done(
        self, key: str, holder: str, document: dict[str, Any], expires: datetime
    ) -> bool:
        """Leave a committed step for the next taker of a claim nobody holds (a claim set's
        item paid for and not stored); False when a claim is there already."""
        body = self._body(key, holder, state="done", step=document, expires_at=expires.isoformat())
        return self._put(key, holder, body, IfNoneMatch="*") is not None

    def renew(self, key: str, holder: str) -> bool:
        """Extend our lease; False when it was lost (taken over after expiring)."""
        with self._mutex:
            etag = self._etags.get((key, holder))
            count = self._renewals.get((key, holder), 0) + 1
            self._renewals[(key, holder)] = count
        if etag is None:
            return False
        body = self._body(key, holder, state="held", renewals=count)
        return self._put(key, holder, body, IfMatch=etag) is not None

    def release(
        self, key: str, holder: str, document: dict[str, Any] | None, expires: datetime | None
    ) -> bool:
        """Leave the committed step with the claim (or delete it); False if it was lost."""
        with self._mutex:
            etag = self._etags.pop((key, holder), None)
            self._renewals.pop((key, holder), None)
        if etag is None:
            return False
        if document is not None and expires is not None:
            body = self._body(
                key, holder, state="done", step=document, expires_at=expires.isoformat()
            )
            return self._put(key, holder, body, IfMatch=etag) is not None
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.object_key(key), IfMatch=etag)
        except ClientError as exc:
            if conflict(exc) or missing(exc):
                return False
            raise
        return True


def _number(value: Any, default: float) -> float:
    return float(value) if isinstance(value, (int, float)) and value > 0 else default


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
