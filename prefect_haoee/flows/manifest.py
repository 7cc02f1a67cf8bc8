"""``manifest.json``: one record per item of a campaign run, written next to the images.

Records hold the request parameters without secrets and without inline images (base64
inputs are replaced by their count and sha256), so a manifest is safe to share.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any, Literal

from botocore.exceptions import ClientError
from prefect_aws.s3 import S3Bucket
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from prefect_haoee.campaigns import WorkItem
from prefect_haoee.tasks.records import ImageRecord
from prefect_haoee.tasks.storage import full_key, s3_client

Status = Literal["done", "failed"]


class ManifestEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    request_hash: str
    prompt_id: str
    variant: int
    req_key: str
    mode: str
    kind: str = "image"
    params: dict[str, Any]
    seed: int | None
    status: Status
    key: str | None = None
    sha256: str | None = None
    width: int | None = None
    height: int | None = None
    bytes: int | None = None
    format: str | None = None
    duration_s: float | None = None
    extra_keys: list[str] = Field(default_factory=list)
    gateway_request_id: str | None = None
    cost_units: int = 0
    source: str | None = None
    error: str | None = None
    references: list[dict[str, Any]] = Field(default_factory=list)
    """The item's reference images: source, kind, via, bytes, sha256 (never the bytes)."""
    paid_by: str | None = None
    """The flow run that paid for the object (None when this run reused it)."""
    paid_twice_with: str | None = None
    """Another run that paid for the same object: a double payment (``paid twice``)."""


class Manifest(BaseModel):
    campaign: str
    run_date: str
    written_at: datetime
    bucket: str
    total: int
    done: int
    failed: int
    paid_twice: int = 0
    """Items another run paid for too (two runs without a shared lock): see each entry's
    ``paid_twice_with``."""
    items: list[ManifestEntry]


def safe_params(item: WorkItem) -> dict[str, Any]:
    """The request body without inline images (their count and digest instead)."""
    body = item.request.model_dump(mode="json", exclude_none=True)
    images = body.pop("binary_data_base64", None)
    if images:
        digest = hashlib.sha256("".join(images).encode()).hexdigest()
        body["binary_data_base64"] = f"<{len(images)} image(s) sha256:{digest[:16]}>"
    links = getattr(item.request, "image_digests", None) or {}
    if links and body.get("image_urls"):  # presigned links: bearer credentials, never kept
        body["image_urls"] = [
            f"<presigned {links[u]}>" if u in links else u for u in body["image_urls"]
        ]
    for name in getattr(item.request, "image_fields", ()):
        if name in body:  # inline images of the other families
            body[name] = "<image(s)>"
    return body


def entry_for(item: WorkItem, record: ImageRecord | None, error: str | None) -> ManifestEntry:
    base = {
        "request_hash": item.request_hash,
        "prompt_id": item.prompt_id,
        "variant": item.variant,
        "req_key": item.req_key,
        "mode": item.mode,
        "kind": item.kind,
        "params": safe_params(item),
        "references": [dict(ref) for ref in item.references],
    }
    if record is None:
        return ManifestEntry(**base, seed=item.seed, status="failed", error=error)
    return ManifestEntry(**base, **record.entry_fields(), status="done")


def build_manifest(
    campaign: str, run_date: str, bucket: str, entries: list[ManifestEntry]
) -> Manifest:
    done = sum(1 for e in entries if e.status == "done")
    return Manifest(
        campaign=campaign,
        run_date=run_date,
        written_at=datetime.now(timezone.utc),
        bucket=bucket,
        total=len(entries),
        done=done,
        failed=len(entries) - done,
        paid_twice=sum(1 for e in entries if e.paid_twice_with),
        items=entries,
    )


_MANIFEST_JSON = TypeAdapter(Manifest)


def write_manifest(bucket: S3Bucket, key: str, manifest: Manifest) -> str:
    data = _MANIFEST_JSON.dump_json(manifest, indent=2)  # bytes at once, no str copy
    s3_client(bucket).put_object(
        Bucket=bucket.bucket_name,
        Key=full_key(bucket, key),
        Body=data,
        ContentType="application/json",
    )
    return full_key(bucket, key)


def read_manifest(bucket: S3Bucket, key: str) -> Manifest | None:
    """The manifest of an earlier run, or None (missing or unreadable: it is rebuilt)."""
    try:
        answer = s3_client(bucket).get_object(Bucket=bucket.bucket_name, Key=full_key(bucket, key))
    except ClientError:
        return None
    try:
        return Manifest.model_validate(json.loads(answer["Body"].read()))
    except ValueError:
        return None


def reconcile(previous: Manifest | None, manifest: Manifest, since: datetime) -> Manifest:
    """``manifest`` with the double payments that the manifest already at its key shows.

    Two runs of one campaign on machines that share no lock both pay for an item; the one
    that stores second finds the object (``paid_twice_with`` in its record). The run that
    stored first learns it here, when the other run's manifest is at the key: an item both
    paid for (``cost_units`` > 0 in both, different ``paid_by``) in a manifest written since
    this run started. Double payments an earlier manifest reported stay reported while the
    item is at the same key.
    """
    if previous is None:
        return manifest
    known = {e.request_hash: e for e in previous.items if e.status == "done"}
    concurrent = previous.written_at >= since
    entries: list[ManifestEntry] = []
    changed = False
    for entry in manifest.items:
        other = known.get(entry.request_hash)
        mark: str | None = None
        if entry.status == "done" and entry.paid_twice_with is None and other is not None:
            if other.paid_twice_with and other.key == entry.key:
                mark = other.paid_twice_with if other.paid_by == entry.paid_by else other.paid_by
            elif (
                concurrent
                and entry.cost_units > 0
                and other.cost_units > 0
                and other.paid_by != entry.paid_by
            ):
                mark = other.paid_by or "unknown"
        if mark:
            entry = entry.model_copy(update={"paid_twice_with": mark})
            changed = True
        entries.append(entry)
    if not changed:
        return manifest
    paid_twice = sum(1 for e in entries if e.paid_twice_with)
    return manifest.model_copy(update={"items": entries, "paid_twice": paid_twice})


def record_from_entry(entry: ManifestEntry, bucket: str) -> ImageRecord | None:
    """An earlier run's record of a stored image (no S3 call needed)."""
    return ImageRecord.from_manifest(entry.model_dump(), bucket)
