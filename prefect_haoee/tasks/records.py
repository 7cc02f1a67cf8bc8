"""Typed results of the tasks: what a run hands on, persists and reports.

None of them holds a secret: requests carry no key, and the key lives only in settings.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from prefect_haoee.client.catalog import Mode
from prefect_haoee.client.requests.base import LogoInfo


class SubmittedGeneration(BaseModel):
    """An accepted async submission, persisted as soon as the gateway answers."""

    model_config = ConfigDict(frozen=True)

    request_hash: str
    req_key: str
    task_id: str
    seed: int | None = None
    deterministic: bool = True
    return_url: bool = True
    logo_info: LogoInfo | None = None
    """Output options are applied when polling (GetResult's req_json), not at submit."""
    gateway_request_id: str | None = None
    submitted_at: datetime


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
