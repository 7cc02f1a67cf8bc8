"""Ledger entries as objects in the output bucket (the default: no service to run).

One object per paid step, ``<bucket folder>/.haoee-ledger/<key>.json``:

* **take** a free key: ``PutObject`` with ``If-None-Match: *``; S3 accepts exactly one of
  several concurrent writers (412 for the others). A key that exists is read: done (the
  answer), or held. A held entry whose ``LastModified + lease`` is past the S3 server's
  own clock (the ``Date`` of its answer: no clock of ours is compared), a done entry that
  expired or is the version being replaced, or a held entry of our own lock domain (its
  holder died, see :mod:`.ledger_local`), is taken with ``If-Match: <its ETag>``: again by
  one writer only;
* **renew**: ``PutObject`` with ``If-Match: <our ETag>`` (each body differs, so each ETag
  does); a 412 means the lease was lost to a takeover;
* **finish**: the entry becomes done with the answer (``If-Match``), so a machine that
  waited reads the answer it would have paid for; **abandon** deletes it (``If-Match``).

Conditional writes are atomic on S3 and on S3-compatible stores that implement them.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from botocore.exceptions import ClientError, NoCredentialsError

from prefect_haoee.tasks.errors import LockConfigurationError
from prefect_haoee.tasks.ledger_entry import (
    MAX_ENTRY_BYTES,
    Taken,
    done_body,
    done_unless_free,
    held_body,
    lease_of,
    read_entry,
    stale_for,
)

_CONFLICT = {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}


def _code(exc: ClientError) -> tuple[str, Any]:
    return (
        str(exc.response.get("Error", {}).get("Code", "")),
        exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode"),
    )


def conflict(exc: ClientError) -> bool:
    code, status = _code(exc)
    return code in _CONFLICT or status in (409, 412)


def missing(exc: ClientError) -> bool:
    code, status = _code(exc)
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


class S3Store:
    """The entries of one bucket folder (a boto3 client, as an ``S3Bucket`` block gives)."""

    leased = True
    _etags: dict[tuple[str, str, str], tuple[str, int]] = {}
    """The ETag (and renewals) of each entry held in this process, by bucket, key and
    holder: shared by every store of the process, so a task retry that finishes an answer
    a failed attempt could not write finds the entry it holds."""
    _mutex = threading.Lock()

    def __init__(
        self, client: Any, bucket: str, folder: str, lease_seconds: float, domain: str | None
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.folder = folder.strip("/")
        self.lease_seconds = lease_seconds
        self.domain = domain
        self.where = f"s3://{bucket}/{self.folder}"

    def object_key(self, key: str) -> str:
        return f"{self.folder}/{key}.json"

    def _put(self, key: str, holder: str, body: bytes, renewals: int, **condition: str) -> bool:
        """A conditional put; False when the condition failed."""
        try:
            answer = self.client.put_object(
                Bucket=self.bucket,
                Key=self.object_key(key),
                Body=body,
                ContentType="application/json",
                **condition,
            )
        except ClientError as exc:
            if conflict(exc) or ("IfMatch" in condition and missing(exc)):
                return False
            raise
        with self._mutex:
            self._etags[(self.bucket, key, holder)] = (str(answer["ETag"]), renewals)
        return True

    def _hold(self, key: str, holder: str, **condition: str) -> bool:
        body = held_body(key, holder, self.lease_seconds, renewals=0)
        return self._put(key, holder, body, 0, **condition)

    def take(self, key: str, holder: str, replace: str | None) -> Taken:
        try:
            if self._hold(key, holder, IfNoneMatch="*"):
                return Taken("held")
        except NoCredentialsError:
            raise self._unusable("no AWS credentials were found") from None
        except ClientError as exc:
            code, status = _code(exc)
            if code == "NoSuchBucket":
                raise self._unusable("the bucket does not exist") from None
            if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch") or (
                status == 403
            ):
                raise self._unusable(f"access denied ({code})") from None
            raise
        read = self._read(key)
        if read is None:  # abandoned between our put and our read: try again
            return Taken("busy")
        entry, answer = read
        now = server_now(answer)
        done = done_unless_free(entry, now, replace)
        if done is not None:
            return done
        if entry.get("state") != "done" and not stale_for(entry, self.domain):
            modified = answer.get("LastModified")
            lease = timedelta(seconds=lease_of(entry, self.lease_seconds))
            if isinstance(modified, datetime) and modified.astimezone(timezone.utc) + lease > now:
                holder_of = entry.get("holder")
                return Taken("busy", holder=holder_of if isinstance(holder_of, str) else None)
        # expired, replaced, stale or not ours: one writer takes it over
        if self._hold(key, holder, IfMatch=str(answer["ETag"])):
            return Taken("held")
        return Taken("busy")

    def _unusable(self, reason: str) -> LockConfigurationError:
        """The first request of a paid step found the bucket unusable: said before any
        paid call, and not retried (a retry cannot help)."""
        return LockConfigurationError(
            f"Output bucket {self.bucket!r}: {reason}; its ledger of paid steps "
            f"({self.where}) needs PutObject, GetObject and DeleteObject: nothing was paid"
        )

    def _etag(self, key: str, holder: str, forget: bool = False) -> tuple[str, int] | None:
        with self._mutex:
            if forget:
                return self._etags.pop((self.bucket, key, holder), None)
            return self._etags.get((self.bucket, key, holder))

    def renew(self, key: str, holder: str) -> bool:
        held = self._etag(key, holder)
        if held is None:
            return False
        renewals = held[1] + 1
        body = held_body(key, holder, self.lease_seconds, renewals=renewals)
        return self._put(key, holder, body, renewals, IfMatch=held[0])

    def finish(
        self, key: str, holder: str, step: dict[str, Any], expires: datetime, paid_by: str
    ) -> bool:
        held = self._etag(key, holder)
        if held is None:
            return False
        body = done_body(key, holder, step, expires, paid_by)
        written = self._put(key, holder, body, held[1], IfMatch=held[0]) or self._ours(key, holder)
        self._etag(key, holder, forget=True)
        return written

    def _read(self, key: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The entry under ``key`` (``{}`` when it is not ours or too large to be) and the
        GET's answer; None when nothing is there."""
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.object_key(key))
        except ClientError as exc:
            if missing(exc):
                return None
            raise
        if answer.get("ContentLength", 0) > MAX_ENTRY_BYTES:
            return {}, answer
        return read_entry(answer["Body"].read(MAX_ENTRY_BYTES + 1)), answer

    def _ours(self, key: str, holder: str) -> bool:
        """True when the entry is done by ``holder`` (a retried finish whose first answer
        was lost had written it)."""
        read = self._read(key)
        return (
            read is not None and read[0].get("state") == "done" and read[0].get("holder") == holder
        )

    def abandon(self, key: str, holder: str) -> None:
        held = self._etag(key, holder, forget=True)
        if held is None:
            return
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.object_key(key), IfMatch=held[0])
        except ClientError as exc:
            if not (conflict(exc) or missing(exc)):
                raise
