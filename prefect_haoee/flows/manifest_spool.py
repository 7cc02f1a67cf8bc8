"""A run's manifest written as its items finish: entries spooled, uploaded at the end.

Nothing per item is held in memory to the end of the run: each finished item's entry is
appended to a spooled temporary file (memory up to ``SPOOL_MEMORY``, then disk), and the
manifest document is streamed from it into the upload. Entries are in the order the
items ended (stored ones first). Double payments another run's manifest at the same key
shows (:func:`double_payer`) are found with a compact index of that manifest, in a first pass.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import IO, Any

from prefect_aws.s3 import S3Bucket
from pydantic import AwareDatetime, BaseModel, Field, TypeAdapter

from prefect_haoee.flows.manifest import (
    Manifest,
    ManifestEntry,
    read_checked,
)
from prefect_haoee.tasks.storage import full_key, s3_client

SPOOL_MEMORY = 1024 * 1024
"""Bytes of entries kept in memory before the spool moves to a temporary file (about
1,000 entries; the upload's body spools the same way, so a large run's peak holds two
of these, not two manifests)."""

_ENTRY_JSON = TypeAdapter(ManifestEntry)
_MANIFEST_JSON = TypeAdapter(Manifest)


@dataclass(frozen=True, slots=True)
class PaidFact:
    """What reconciling needs of one done entry of another manifest."""

    key: str | None
    paid_by: str | None
    paid_twice_with: str | None
    cost_units: int


@dataclass(frozen=True)
class PaidIndex:
    """The done entries of the manifest already at a key, by request hash."""

    written_at: datetime
    facts: dict[str, PaidFact]


class _PaidEntry(BaseModel):
    request_hash: str
    status: str
    key: str | None = None
    paid_by: str | None = None
    paid_twice_with: str | None = None
    cost_units: int = Field(default=0, ge=0)


class _PaidDoc(BaseModel):
    """The fields of a manifest that reconciling reads (the schema a planted one must fit)."""

    written_at: AwareDatetime
    items: list[_PaidEntry]


def read_paid_index(bucket: S3Bucket, key: str) -> PaidIndex | None:
    """The manifest at ``key``, reduced to what reconciling needs (None: missing, or not one
    this package wrote: logged, and replaced by this run's)."""
    found = read_checked(bucket, key, _PaidDoc, _PaidEntry)
    if found is None:
        return None
    head, items = found
    facts = {
        e.request_hash: PaidFact(e.key, e.paid_by, e.paid_twice_with, e.cost_units)
        for e in items
        if e.status == "done"
    }
    return PaidIndex(head.written_at, facts)


def double_payer(entry: ManifestEntry, other: PaidFact | None, concurrent: bool) -> str | None:
    """The other payer of ``entry`` that ``other`` (the entry at the key) shows, or None.

    Two runs of one campaign on machines that share no lock both pay for an item; the one
    that stores second finds the object (``paid_twice_with`` in its record). The run that
    stored first learns it here: an item both paid for (``cost_units`` > 0 in both,
    different ``paid_by``) in a manifest written since this run started (``concurrent``).
    Double payments an earlier manifest reported stay reported while the item is at the
    same key.
    """
    if entry.status != "done" or entry.paid_twice_with is not None or other is None:
        return None
    if other.paid_twice_with and other.key == entry.key:
        return other.paid_twice_with if other.paid_by == entry.paid_by else other.paid_by
    if (
        concurrent
        and entry.cost_units > 0
        and other.cost_units > 0
        and other.paid_by != entry.paid_by
    ):
        return other.paid_by or "unknown"
    return None


class ManifestSpool:
    """Entries of one manifest, appended as items end; :meth:`upload` writes the document."""

    def __init__(self) -> None:
        self._file: IO[bytes] = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - closed by close()
            max_size=SPOOL_MEMORY
        )
        self.total = 0
        self.done = 0
        self.paid_twice = 0

    def add(self, entry: ManifestEntry) -> None:
        self._file.write(_ENTRY_JSON.dump_json(entry) + b"\n")
        self.total += 1
        self.done += entry.status == "done"
        self.paid_twice += entry.paid_twice_with is not None

    def entries(self) -> Iterator[ManifestEntry]:
        self._file.flush()
        self._file.seek(0)
        for line in self._file:
            yield ManifestEntry.model_validate_json(line)
        self._file.seek(0, 2)

    def double_payments(self, previous: PaidIndex | None, since: datetime) -> dict[str, str]:
        """Request hash -> other payer: those the entries carry, and those ``previous``
        (the manifest at the key) shows."""
        concurrent = previous is not None and previous.written_at >= since
        twice: dict[str, str] = {}
        for entry in self.entries():
            other = previous.facts.get(entry.request_hash) if previous else None
            mark = entry.paid_twice_with or double_payer(entry, other, concurrent)
            if mark:
                twice[entry.request_hash] = mark
        return twice

    def upload(
        self,
        bucket: S3Bucket,
        key: str,
        header: dict[str, Any],
        twice: dict[str, str] | None = None,
    ) -> str:
        """Write the manifest (``header``: campaign, run_date, bucket) at ``key``, with the
        double payments ``twice`` marked on their entries; return the full key."""
        twice = twice or {}
        head = Manifest(
            **header,
            written_at=datetime.now(timezone.utc),
            total=self.total,
            done=self.done,
            failed=self.total - self.done,
            paid_twice=len(twice) if twice else self.paid_twice,
            items=[],
        )
        opening = _MANIFEST_JSON.dump_json(head)
        if not opening.endswith(b'"items":[]}'):
            raise AssertionError("Manifest.items must be its last field")  # pragma: no cover
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY) as body:
            body.write(opening[: -len(b"]}")] + b"\n")
            for number, entry in enumerate(self.entries()):
                mark = twice.get(entry.request_hash)
                if mark and entry.paid_twice_with is None:
                    entry = entry.model_copy(update={"paid_twice_with": mark})
                body.write((b",\n" if number else b"") + _ENTRY_JSON.dump_json(entry))
            body.write(b"\n]}\n")
            body.seek(0)
            s3_client(bucket).put_object(
                Bucket=bucket.bucket_name,
                Key=full_key(bucket, key),
                Body=body,
                ContentType="application/json",
            )
        return full_key(bucket, key)

    def close(self) -> None:
        self._file.close()
