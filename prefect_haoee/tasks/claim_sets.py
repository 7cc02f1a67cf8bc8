"""Claim sets: one S3 claim for all the items of a campaign run, instead of one per item.

A per-item claim (:mod:`~prefect_haoee.tasks.claims`) costs two conditional PUTs per paid
step: about 7 ms of CPU per image between boto3 and the S3 server, as much as the image's
own upload. A campaign run knows its items before it pays for any, so it claims them all
at once, in the folder's **register** ``<claims folder>/.sets/register.json``: a JSON list
of claim sets, changed only by compare-and-swap (``PutObject`` with ``If-Match`` its ETag,
``If-None-Match: *`` for the first). Each set names its items in an immutable object
``.sets/<id>-*.keys`` (8 bytes of SHA-256 per step key, ``tasks.digest_set``: a
collision only makes two runs wait for each other, never lets both pay).

How a run claims (:meth:`ClaimSets.acquire`), with the per-item claims still in use by
single items (``produce_image`` in a DAG, steps in flows of one's own):

1. list the per-item claims of the folder; items that have one are left out of the set;
2. read the register; items another live set holds are left out too; write the keys and
   the register with our set (If-Match: one writer wins, the loser reads and tries again);
3. list the per-item claims again: one taken between 1 and 2 is dropped from our set.

A single item takes its per-item claim, then reads the register (:meth:`covering`); if a
live set of another run holds its key it deletes its claim and waits for that set. Each
side writes before it reads the other's writes, so of two that overlap, at least one sees
the other: never both pay. Items left out of a set run as single items, so they wait for
the holder and then find its answer (its stored file, or a per-item claim it left).

After claiming, the run lists S3 again (an item stored by another run before we claimed
is not paid again). A set is renewed every third of its lease (``renewed_at`` is the S3
server's ``Date``, never a local clock); one whose holder stopped renewing is pruned by the
next writer after ``lease + 1 s``, and its holder, finding it gone, turns back to per-item
claims. A holder in this machine's lock domain whose set lock file is free has died: its
set is stale at once. At its end a run marks its set done (kept :data:`DONE_RETENTION` so a
single item that looked in S3 before the set stored the item looks again) and leaves a
per-item claim with the committed step of any item it paid for but did not store.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from prefect_haoee.tasks.claims import S3Claims, conflict, missing, parse_time, server_now
from prefect_haoee.tasks.digest_set import DigestSet, digest

logger = logging.getLogger("prefect_haoee.tasks")

REGISTER_FORMAT = "prefect-haoee/claim-sets"
REGISTER_VERSION = 1
DONE_RETENTION = timedelta(minutes=10)
MAX_REGISTER_BYTES = 4_000_000
MAX_KEYS_BYTES = 8 * 2_000_000
CAS_ATTEMPTS = 50
KEYS_CACHE_ENTRIES = 256
_KEYS: dict[str, DigestSet] = {}
"""Keys objects read by this process, by object key: they never change once written, and
every single item's check (a new ``ClaimSets`` each time) reads the same few."""
_KEYS_MUTEX = threading.Lock()


@dataclass(frozen=True)
class Blocking:
    """A set of another run that holds (``held``) or just stored (done) a key."""

    set_id: str
    held: bool
    holder: str


@dataclass
class HeldSet:
    """Our claim on a run's items: ``covers(key)`` while it lives (``lost`` once pruned)."""

    set_id: str
    holder: str
    run_id: str | None
    digests: DigestSet
    left_out: DigestSet
    """Keys another claim held when we claimed: their items run as single items."""
    lost: bool = False
    committed: dict[str, tuple[dict[str, Any], datetime]] = field(default_factory=dict)
    _mutex: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def covers(self, key: str) -> bool:
        return not self.lost and digest(key) in self.digests

    def note_commit(self, key: str, document: dict[str, Any], expires: datetime) -> None:
        """A paid step committed under the set: kept until its item is stored."""
        with self._mutex:
            self.committed[key] = (document, expires)

    def settled(self, key: str) -> None:
        """The item of ``key`` is stored: its committed step needs no hand-over."""
        with self._mutex:
            self.committed.pop(key, None)

    def unsettled(self) -> list[tuple[str, dict[str, Any], datetime]]:
        with self._mutex:
            return [(k, doc, exp) for k, (doc, exp) in self.committed.items()]


class ClaimSets:
    """The register of claim sets in one claims folder (next to its per-item claims)."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        folder: str,
        lease_seconds: float,
        domain: str | None = None,
        stale: Any = None,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.folder = folder.strip("/")
        self.lease_seconds = lease_seconds
        self.domain = domain
        self.stale = stale
        """``stale(set_id) -> bool``: the set's holder, in our lock domain, has died."""
        self.singles = S3Claims(client, bucket, folder, lease_seconds, domain=domain)

    def _key(self, name: str) -> str:
        return f"{self.folder}/.sets/{name}" if self.folder else f".sets/{name}"

    # ------------------------------------------------------------------ the register

    def _read(self) -> tuple[list[dict[str, Any]], str | None, datetime]:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._key("register.json"))
        except ClientError as exc:
            if missing(exc):
                return [], None, server_now(dict(exc.response))
            raise
        body = answer["Body"].read(MAX_REGISTER_BYTES + 1)
        now = server_now(answer)
        try:
            doc = json.loads(body) if len(body) <= MAX_REGISTER_BYTES else {}
        except ValueError:
            doc = {}
        sets = doc.get("sets") if isinstance(doc, dict) else None
        if not isinstance(sets, list) or doc.get("format") != REGISTER_FORMAT:
            sets = []  # damaged or not ours: rewritten by the next writer
        return [s for s in sets if isinstance(s, dict)], str(answer["ETag"]), now

    def _write(self, sets: list[dict[str, Any]], etag: str | None) -> bool:
        body = json.dumps(
            {"format": REGISTER_FORMAT, "version": REGISTER_VERSION, "sets": sets},
            sort_keys=True,
        ).encode()
        condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=self._key("register.json"),
                Body=body,
                ContentType="application/json",
                **condition,
            )
        except ClientError as exc:
            if conflict(exc) or (etag and missing(exc)):
                return False
            raise
        return True

    def _alive(self, entry: dict[str, Any], now: datetime) -> bool:
        """A held set whose lease runs (and whose holder, if in our domain, lives)."""
        if entry.get("state") != "held":
            return False
        renewed = parse_time(entry.get("renewed_at"))
        lease = _number(entry.get("lease_seconds"), self.lease_seconds) + 1.0
        if renewed is None or renewed + timedelta(seconds=lease) <= now:
            return False
        ours = bool(self.domain) and str(entry.get("holder", "")).startswith(f"{self.domain}/")
        return not (ours and self.stale is not None and self.stale(str(entry.get("id"))))

    def _recent(self, entry: dict[str, Any], now: datetime) -> bool:
        ended = parse_time(entry.get("ended_at"))
        return entry.get("state") == "done" and ended is not None and ended + DONE_RETENTION > now

    def _pruned(self, sets: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
        kept = [s for s in sets if self._alive(s, now) or self._recent(s, now)]
        for gone in sets:
            if gone not in kept and isinstance(gone.get("keys"), str):
                self._forget_keys(gone["keys"])
        return kept

    def _forget_keys(self, name: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=name)
        except ClientError as exc:  # tidiness only: a lifecycle rule may do it too
            logger.debug("Could not delete the claim-set keys %r: %s", name, exc)

    def _change(self, change: Any) -> list[dict[str, Any]]:
        """Compare-and-swap the register with ``change(sets, now) -> sets | None``."""
        for _ in range(CAS_ATTEMPTS):
            sets, etag, now = self._read()
            new = change(self._pruned(sets, now), now)
            if new is None or self._write(new, etag):
                return sets
        raise ConnectionError("the claim-set register kept changing under us")

    # ------------------------------------------------------------------ keys

    def keys_of(self, entry: dict[str, Any]) -> DigestSet:
        """The digests a set holds (read once per process and keys object)."""
        name = str(entry.get("keys", ""))
        cache = f"{self.bucket}/{name}"
        with _KEYS_MUTEX:
            known = _KEYS.get(cache)
        if known is not None:
            return known
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=name)
            raw = answer["Body"].read(MAX_KEYS_BYTES + 1)
        except ClientError as exc:
            if not missing(exc):
                raise
            raw = b""
        try:
            if len(raw) > MAX_KEYS_BYTES:
                raise ValueError(f"over {MAX_KEYS_BYTES} bytes")
            keys = DigestSet.from_bytes(raw)
        except ValueError as exc:
            raise ValueError(f"claim-set keys {name!r} are damaged: {exc}") from None
        _remember(cache, keys)
        return keys

    def _put_keys(self, set_id: str, digests: DigestSet) -> str:
        name = self._key(f"{set_id}-{uuid.uuid4().hex[:8]}.keys")
        self.client.put_object(
            Bucket=self.bucket,
            Key=name,
            Body=digests.to_bytes(),
            ContentType="application/octet-stream",
        )
        _remember(f"{self.bucket}/{name}", digests)
        return name

    def _claimed_singly(self) -> set[int]:
        """Digests of the step keys that have a per-item claim object (any state)."""
        prefix = f"{self.folder}/" if self.folder else ""
        out: set[int] = set()
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix, Delimiter="/"
        )
        for page in pages:
            for obj in page.get("Contents", ()):
                name = str(obj["Key"])[len(prefix) :]
                if name.endswith(".json"):
                    out.add(digest(name[: -len(".json")]))
        return out

    # ------------------------------------------------------------------ the protocol

    def covering(self, key: str, run_id: str | None) -> Blocking | None:
        """A set of another run that holds ``key`` now, or stored it lately."""
        sets, _, now = self._read()
        wanted = digest(key)
        found: Blocking | None = None
        for entry in sets:
            if run_id is not None and entry.get("run") == run_id:
                continue
            held = self._alive(entry, now)
            if not (held or self._recent(entry, now)) or wanted not in self.keys_of(entry):
                continue
            if held:
                return Blocking(str(entry.get("id")), True, str(entry.get("holder")))
            found = Blocking(str(entry.get("id")), False, str(entry.get("holder")))
        return found

    def acquire(
        self, wanted: DigestSet, run_id: str | None, holder: str, set_id: str | None = None
    ) -> HeldSet:
        """Claim every key of ``wanted`` (digests) no other claim holds (module docstring)."""
        set_id = set_id or uuid.uuid4().hex
        before = {d for d in self._claimed_singly() if d in wanted}
        mine = DigestSet()
        keys_name = ""

        def add(sets: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]] | None:
            nonlocal mine, keys_name
            taken = [self.keys_of(entry) for entry in sets if self._alive(entry, now)]
            chosen = DigestSet(
                d for d in wanted if d not in before and not any(d in t for t in taken)
            )
            if chosen != mine or not keys_name:
                mine, keys_name = chosen, self._put_keys(set_id, chosen)
            return [*sets, self._entry(set_id, holder, run_id, keys_name, len(mine), now)]

        self._change(add)
        late = {d for d in self._claimed_singly() if d in mine and d not in before}
        if late:
            mine = DigestSet(d for d in mine if d not in late)
            self._replace_keys(set_id, mine)
        left_out = DigestSet(d for d in wanted if d not in mine)
        return HeldSet(set_id, holder, run_id, mine, left_out)

    def _entry(
        self, set_id: str, holder: str, run_id: str | None, keys: str, count: int, now: datetime
    ) -> dict[str, Any]:
        return {
            "id": set_id,
            "holder": holder,
            "run": run_id,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "keys": keys,
            "count": count,
            "lease_seconds": self.lease_seconds,
            "renewed_at": now.isoformat(),
            "state": "held",
        }

    def _replace_keys(self, set_id: str, mine: DigestSet) -> None:
        name = self._put_keys(set_id, mine)

        def shrink(sets: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]] | None:
            return [
                {**s, "keys": name, "count": len(mine)} if s.get("id") == set_id else s
                for s in sets
            ]

        self._change(shrink)

    def renew(self, held: HeldSet) -> bool:
        """Extend our set's lease; False (and ``held.lost``) once it was pruned."""
        present = False

        def touch(sets: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]] | None:
            nonlocal present
            present = any(s.get("id") == held.set_id and s.get("state") == "held" for s in sets)
            if not present:
                return None
            return [
                {**s, "renewed_at": now.isoformat()} if s.get("id") == held.set_id else s
                for s in sets
            ]

        self._change(touch)
        if not present:
            held.lost = True
        return present

    def release(self, held: HeldSet) -> None:
        """Hand over what was paid and not stored, then mark the set done."""
        for key, document, expires in held.unsettled():
            self.singles.leave_done(key, held.holder, document, expires)

        def end(sets: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]] | None:
            return [
                {**s, "state": "done", "ended_at": now.isoformat()}
                if s.get("id") == held.set_id
                else s
                for s in sets
            ]

        self._change(end)
        held.lost = True


def _remember(cache: str, keys: DigestSet) -> None:
    with _KEYS_MUTEX:
        if len(_KEYS) >= KEYS_CACHE_ENTRIES:
            _KEYS.clear()
        _KEYS[cache] = keys


def _number(value: Any, default: float) -> float:
    return float(value) if isinstance(value, (int, float)) and value > 0 else default
