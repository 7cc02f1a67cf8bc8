"""``manifest.json``: one record per item of a campaign run, written next to the images.

Records hold the request parameters without secrets and without inline images (base64
inputs are replaced by their count and sha256), so a manifest is safe to share.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timezone
from typing import Any, Literal, TypeVar

from botocore.exceptions import ClientError
from prefect_aws.s3 import S3Bucket
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from prefect_haoee.campaigns import WorkItem
from prefect_haoee.client.redact import map_strings, redact_urls
from prefect_haoee.tasks.records import ImageRecord
from prefect_haoee.tasks.storage import full_key, s3_client

Status = Literal["done", "failed"]

MANIFEST_MAX_BYTES = 128 * 1024 * 1024
"""The largest manifest read back (about 150,000 items); a larger object at the key is
ignored and replaced."""

logger = logging.getLogger("prefect_haoee.flows")

H = TypeVar("H", bound=BaseModel)
E = TypeVar("E", bound=BaseModel)


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
    cost_units: int = Field(default=0, ge=0)
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
    written_at: AwareDatetime
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
    # Every URL redacted: a link's password or signature never reaches a manifest that
    # anyone who can list the bucket reads.
    safe: dict[str, Any] = map_strings(body, redact_urls)
    return safe


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


def fetch_manifest_json(bucket: S3Bucket, key: str) -> Any | None:
    """The JSON document at ``key``, or None: missing, or not one to trust (over
    :data:`MANIFEST_MAX_BYTES`, not JSON, nested too deep), which is logged. The manifest is
    this package's output, not its input: whoever can write the bucket can plant one, so
    what it holds is checked against the schema by the reader and, when it does not fit,
    ignored; the run writes a fresh one at the key."""
    try:
        answer = s3_client(bucket).get_object(Bucket=bucket.bucket_name, Key=full_key(bucket, key))
    except ClientError:
        return None
    body = answer["Body"]
    try:
        size = int(answer.get("ContentLength") or 0)
        if size > MANIFEST_MAX_BYTES:
            ignored(bucket, key, f"{size} bytes, over the {MANIFEST_MAX_BYTES} this reads")
            return None
        data = body.read(MANIFEST_MAX_BYTES + 1)
        if len(data) > MANIFEST_MAX_BYTES:
            ignored(bucket, key, f"over the {MANIFEST_MAX_BYTES} bytes this reads")
            return None
        return json.loads(data)
    except RecursionError:
        ignored(bucket, key, "nested too deep")
        return None
    except ValueError as exc:  # not JSON, not UTF-8, an int past the digit limit
        ignored(bucket, key, f"not JSON ({type(exc).__name__})")
        return None
    finally:
        body.close()


def problem_of(exc: ValidationError, at: str = "") -> str:
    """A one-line summary of a schema mismatch that quotes none of the document's values."""
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    first = errors[0]
    loc = ".".join([at] * bool(at) + [str(part) for part in first["loc"]]) or "(top)"
    return f"not as this package writes it: {loc}: {first['msg']}"


def checked(doc: Any, header: type[H], entry: type[E]) -> tuple[H, list[E]]:
    """``doc``'s header (``header`` validated with no items) and its items (each an
    ``entry``), checked in order and given up at the first problem: a planted document
    with a million bad items costs one error, not a million. ValueError: what is wrong."""
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise ValueError("not a JSON object with a list of items")
    try:
        head = header.model_validate({**doc, "items": []})
    except ValidationError as exc:
        raise ValueError(problem_of(exc)) from None
    items: list[E] = []
    for number, item in enumerate(doc["items"]):
        try:
            items.append(entry.model_validate(item))
        except ValidationError as exc:
            raise ValueError(problem_of(exc, f"items.{number}")) from None
    return head, items


def ignored(bucket: S3Bucket, key: str, why: str) -> None:
    """Log that the object at ``key`` is not read as a manifest, and why."""
    where = f"s3://{bucket.bucket_name}/{full_key(bucket, key)}"
    logger.warning("ignoring the manifest at %s (%s); this run writes a fresh one", where, why)


def read_checked(
    bucket: S3Bucket, key: str, header: type[H], entry: type[E]
) -> tuple[H, list[E]] | None:
    """The manifest at ``key`` read as ``header`` and ``entry`` models (:func:`checked`),
    or None: missing, or not one this package wrote (logged; the run writes a fresh one)."""
    doc = fetch_manifest_json(bucket, key)
    if doc is None:
        return None
    try:
        return checked(doc, header, entry)
    except ValueError as exc:
        ignored(bucket, key, str(exc))
        return None


def read_manifest(bucket: S3Bucket, key: str) -> Manifest | None:
    """The manifest of an earlier run, or None (missing or not one this package wrote:
    logged, and rebuilt)."""
    found = read_checked(bucket, key, Manifest, ManifestEntry)
    return found[0].model_copy(update={"items": found[1]}) if found else None


def record_from_entry(entry: ManifestEntry, bucket: str) -> ImageRecord | None:
    """An earlier run's record of a stored image (no S3 call needed), or None when the
    entry does not make one (the caller reads the object's own metadata instead)."""
    try:
        return ImageRecord.from_manifest(entry.model_dump(), bucket)
    except ValidationError:
        return None
