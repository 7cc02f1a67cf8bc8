"""Typed results of the tasks: what a run hands on, persists and reports.

None of them holds a secret: requests carry no key, and the key lives only in settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from prefect_haoee.client.catalog import Mode
from prefect_haoee.client.protocol import AnyRequest

META_SHA256 = "sha256"
META_REQUEST_HASH = "request-hash"
META_PAID_BY = "paid-by-run"
"""S3 metadata: the flow run (or, outside a flow, the task run) that paid for the object."""


class StoredObject(BaseModel):
    """An image object in S3."""

    model_config = ConfigDict(frozen=True)

    bucket: str
    key: str
    sha256: str
    size: int
    content_type: str
    uploaded: bool
    """False when an object with the same checksum was already there (nothing written)."""
    found_payer: str | None = None
    """When an object was already at the key: the run its metadata names as the payer
    (``"unknown"`` if it names none). None when the key was free."""

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


class StepTimings(BaseModel):
    """Seconds spent in each step of one item (0 for steps skipped or read from cache)."""

    generate_s: float = 0.0
    wait_s: float = 0.0
    download_s: float = 0.0
    upload_s: float = 0.0
    total_s: float = 0.0


class ImageRecord(BaseModel):
    """One produced image: the unit of the manifest and of the campaign table."""

    model_config = ConfigDict(frozen=True)

    request_hash: str
    """Identity of the item (the hash of the request as planned)."""
    kind: Literal["image", "video", "music"] = "image"
    duration_s: float | None = None
    """Length of a video or audio file (None for images, or when the format hides it)."""
    generated_hash: str
    """Hash of the request that made the image (differs after an output-moderation reseed)."""
    req_key: str
    mode: Mode
    seed: int | None
    bucket: str
    key: str
    extra_keys: list[str] = Field(default_factory=list)
    """Further images of the same answer (models that return several), stored beside it."""
    sha256: str
    format: str
    width: int
    height: int
    bytes: int
    gateway_request_id: str | None = None
    task_id: str | None = None
    cost_units: int = Field(
        default=0, description="Paid generations this run made for the item (0 if reused)."
    )
    reseeds: int = 0
    source: Literal["generated", "resumed", "s3"] = "generated"
    """generated: paid now; resumed: a persisted paid step was reused; s3: already stored."""
    cache_hit: bool = False
    timings: StepTimings = Field(default_factory=StepTimings)
    paid_by: str | None = None
    """The flow run that paid for the stored object (S3 metadata ``paid-by-run``)."""
    paid_twice_with: str | None = None
    """Another run that paid for this same object too: a double payment (two runs without
    a shared lock). None when only one payment is known."""

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def entry_fields(self) -> dict[str, Any]:
        """The fields a manifest entry takes from the record (:data:`ENTRY_FIELDS`)."""
        return {name: getattr(self, name) for name in ENTRY_FIELDS}

    @classmethod
    def from_manifest(cls, entry: Mapping[str, Any], bucket: str) -> ImageRecord | None:
        """An earlier run's record of a stored item, from its manifest entry (the fields of
        :meth:`entry_fields` plus ``request_hash``, ``req_key``, ``kind``, ``mode``,
        ``status``); None unless the entry is done with a key and a checksum."""
        if entry.get("status") != "done" or not entry.get("key") or not entry.get("sha256"):
            return None
        given = {name: entry.get(name) for name in ENTRY_FIELDS}
        fields = {k: v for k, v in given.items() if k not in _OVERRIDDEN}
        return cls(
            **fields,
            **{name: given[name] or 0 for name in ("width", "height", "bytes")},
            format=given["format"] or "",
            extra_keys=given["extra_keys"] or [],
            request_hash=entry["request_hash"],
            generated_hash=entry["request_hash"],
            req_key=entry["req_key"],
            kind=_kind(entry.get("kind")),
            mode="async" if entry.get("mode") == "async" else "sync",
            bucket=bucket,
            cost_units=0,
            source="s3",
            cache_hit=True,
        )

    @classmethod
    def from_head(
        cls, request: AnyRequest, mode: Mode, bucket: str, key: str, head: Mapping[str, Any]
    ) -> ImageRecord:
        """The record of the object ``key`` (the bucket key) from its S3 HEAD answer: its
        identity is in the object's user metadata, so no gateway call, no download."""
        meta: Mapping[str, str] = head.get("Metadata", {})
        duration = meta.get("duration")
        return cls(
            request_hash=request.request_hash,
            generated_hash=meta.get("generated-hash", request.request_hash),
            kind=request.kind,
            req_key=request.model_id,
            mode=mode,
            seed=_int(meta.get("seed")) if meta.get("seed") else request.seed_value,
            bucket=bucket,
            key=key,
            sha256=meta.get(META_SHA256, ""),
            format=meta.get("format", ""),
            width=_int(meta.get("width")) or 0,
            height=_int(meta.get("height")) or 0,
            bytes=int(head.get("ContentLength", 0) or 0),
            duration_s=float(duration) if duration else None,
            gateway_request_id=meta.get("gateway-request-id"),
            paid_by=meta.get(META_PAID_BY),
            source="s3",
            cache_hit=True,
        )


ENTRY_FIELDS = (
    "seed",
    "key",
    "sha256",
    "width",
    "height",
    "bytes",
    "format",
    "duration_s",
    "extra_keys",
    "gateway_request_id",
    "cost_units",
    "source",
    "paid_by",
    "paid_twice_with",
)
"""The fields a manifest entry shares with the record of a done item."""
_OVERRIDDEN = frozenset(
    {"width", "height", "bytes", "format", "extra_keys", "cost_units", "source"}
)


def _kind(value: Any) -> Literal["image", "video", "music"]:
    return "video" if value == "video" else "music" if value == "music" else "image"


def _int(value: str | None) -> int | None:
    return int(value) if value and value.lstrip("-").isdigit() else None
