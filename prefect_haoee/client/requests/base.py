"""Shared pieces of every Volcengine visual request model.

A request model is the unit of identity: its canonical JSON, hashed with sha256, is the
*request hash* used as cache key, S3 object name and manifest id. Like every request of
the job protocol (:mod:`prefect_haoee.client.protocol`) it declares its ``family``,
``kind``, billed ``model_id``, ``step_names`` and whether it ``can_reseed``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from prefect_haoee.client.catalog import CATALOG, Mode
from prefect_haoee.client.kinds import VISUAL_STEPS, MediaKind, ModeChoice, StepNames
from prefect_haoee.client.requests.rules import (
    GUESSED_INPUT_LIMITS,
    InputLimits,
    WireImage,
    field_error,
)

# Fields that choose how the answer is delivered, not what image is made: left out of the hash.
DELIVERY_FIELDS: frozenset[str] = frozenset({"return_url"})


class LogoInfo(BaseModel):
    """Visible "AI generated" watermark options."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    add_logo: bool = False
    position: int = Field(default=0, ge=0, le=3, description="0 bottom-right .. 3 top-right")
    language: int = Field(default=0, ge=0, le=1, description="0 Chinese, 1 English")
    opacity: float = Field(default=0.3, ge=0, le=1)
    logo_text_content: str | None = Field(default=None, max_length=50)


class AigcMeta(BaseModel):
    """Implicit AIGC label (Jimeng docs)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    content_producer: str | None = None
    producer_id: str
    content_propagator: str | None = None
    propagate_id: str | None = None


def check_base64_images(values: list[str] | None) -> list[str] | None:
    """Raw base64 only: a ``data:`` prefix makes the gateway answer 50207."""
    if values is None:
        return None
    for i, value in enumerate(values):
        problem = _base64_problem(value)
        if problem:
            raise ValueError(f"item {i}: {problem}")
    return values


@lru_cache(maxsize=64)
def _base64_problem(value: str) -> str | None:
    """Why ``value`` is not raw base64 (None when it is); cached, since a reference image
    shared by many items is validated once per item."""
    if not value:
        return "empty image"
    if value.startswith("data:"):
        return "base64 must not carry a 'data:' prefix"
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        return f"not valid base64 ({exc})"
    return None


@lru_cache(maxsize=64)
def base64_identity(value: str) -> str:
    """``sha256:<hex>`` of the bytes a base64 image decodes to: its identity in a hash.

    Cached by value (a reference used by many items is hashed once; the string's own
    hash is cached by Python, so a look-up does not re-read it)."""
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        data = value.encode("utf-8")
    return "sha256:" + hashlib.sha256(data).hexdigest()


def check_image_urls(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    for i, value in enumerate(values):
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"item {i}: image URL must be http(s), got {value[:40]!r}")
    return values


class VisualRequest(BaseModel):
    """Base of every ``/volcv/v1`` request body (one subclass per ``req_key``).

    Subclasses set ``req_key`` to a ``Literal`` and declare their own parameters and
    ranges. Class variables describe image inputs: ``min_images``/``max_images`` count the
    images given as ``binary_data_base64`` *or* ``image_urls`` (base64 wins when both are
    given, as the gateway does).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    family: ClassVar[str] = "visual"
    """The adapter of the Volcengine visual API (``POST /volcv/v1``) in the registry."""
    kind: ClassVar[MediaKind] = "image"
    step_names: ClassVar[StepNames] = VISUAL_STEPS
    """The names its paid steps are committed under."""
    min_images: ClassVar[int] = 0
    max_images: ClassVar[int] = 0
    base64_only: ClassVar[bool] = False
    urls_only: ClassVar[bool] = False
    input_limits: ClassVar[InputLimits] = GUESSED_INPUT_LIMITS
    prompt_max_chars: ClassVar[int | None] = None

    req_key: str
    binary_data_base64: list[str] | None = Field(default=None, repr=False)
    image_urls: list[str] | None = None
    image_digests: dict[str, str] | None = Field(default=None, repr=False, exclude=True)
    """``{url: "sha256:<hex>"}`` for image URLs whose content is known (presigned S3
    links, which change on every run): the hash uses the digest, never the link. Not sent."""
    return_url: bool = True
    logo_info: LogoInfo | None = None

    @field_validator("binary_data_base64")
    @classmethod
    def _check_b64(cls, value: list[str] | None) -> list[str] | None:
        return check_base64_images(value)

    @field_validator("image_urls")
    @classmethod
    def _check_urls(cls, value: list[str] | None) -> list[str] | None:
        return check_image_urls(value)

    @model_validator(mode="after")
    def _check_image_count(self) -> VisualRequest:
        # Errors are raised located at the field (not the model root) so callers can
        # tell which input was wrong from ``exc.errors()[0]["loc"]``.
        model = type(self).__name__
        b64 = self.binary_data_base64 or []
        urls = self.image_urls or []
        if self.base64_only and urls:
            raise field_error(
                model,
                "image_urls",
                f"{self.req_key} takes images as binary_data_base64 only",
                urls,
            )
        count = len(b64) if b64 else len(urls)
        if count < self.min_images or count > self.max_images:
            if self.min_images == self.max_images:
                want = f"exactly {self.min_images}"
            else:
                want = f"{self.min_images} to {self.max_images}"
            field = "binary_data_base64" if b64 or self.base64_only else "image_urls"
            if self.max_images == 0:
                raise field_error(
                    model, field, f"{self.req_key} takes no input image ({field} given)", count
                )
            raise field_error(
                model,
                field,
                f"{self.req_key} takes {want} input image(s) in binary_data_base64 or "
                f"image_urls, got {count}",
                count,
            )
        prompt = getattr(self, "prompt", None)
        limit = self.prompt_max_chars
        if limit is not None and isinstance(prompt, str) and len(prompt) > limit:
            raise field_error(
                model,
                "prompt",
                f"prompt is {len(prompt)} characters; {self.req_key} allows {limit}",
                prompt,
            )
        return self

    # -- reference images -------------------------------------------------------------
    @classmethod
    def reference_fields(cls, images: Sequence[WireImage]) -> dict[str, Any]:
        """The body fields carrying ``images`` (in order), as this model takes them.

        Files and S3 objects go as ``binary_data_base64``; https references (and presigned
        S3 links, when a campaign opts in) as ``image_urls``, the links' digests in
        ``image_digests``. The gateway ignores ``image_urls`` when base64 is given, so one
        request never mixes the two. ``ValueError`` says why the images cannot go.
        """
        if not images:
            return {}
        req_key = cls.model_fields["req_key"].default
        have_b64 = all(image.base64 is not None for image in images)
        have_url = all(image.url is not None for image in images)
        if cls.urls_only and not have_url:
            raise ValueError(
                f"{req_key} takes input images as URLs only (image_urls): use https:// "
                "references, or S3 objects with 'references: {via: presigned}'"
            )
        if cls.base64_only or (have_b64 and not have_url):
            if not have_b64:
                raise ValueError(
                    f"{req_key} takes input images as files only (binary_data_base64): "
                    "use local paths or s3:// objects, not URLs"
                )
            return {"binary_data_base64": [image.base64 for image in images]}
        if have_url:
            digests = {image.url: image.sha256 for image in images if image.url and image.sha256}
            fields: dict[str, Any] = {"image_urls": [image.url for image in images]}
            if digests:
                fields["image_digests"] = digests
            return fields
        raise ValueError(
            f"{req_key} gets files as binary_data_base64 and URLs as image_urls, and the "
            "gateway ignores image_urls when base64 is given: use only files/S3 objects "
            "or only URLs (S3 objects go as links with 'references: {via: presigned}')"
        )

    # -- identity -----------------------------------------------------------------------
    @property
    def seed_value(self) -> int | None:
        """The seed this request asks for (``None`` when the model has no seed field)."""
        seed = getattr(self, "seed", None)
        return seed if isinstance(seed, int) else None

    @property
    def is_deterministic(self) -> bool:
        """False for ``seed=-1`` (random): such a request must never be cached."""
        return self.seed_value != -1

    def to_body(self) -> dict[str, Any]:
        """The JSON body sent to the gateway (unset optional fields left out)."""
        return self.model_dump(mode="json", exclude_none=True)

    def canonical_json(self) -> str:
        """Sorted keys, defaults filled, delivery options left out; input images by content:
        each base64 image as the sha256 of its bytes, each URL of known content (see
        ``image_digests``) as that digest, other URLs as they are."""
        data = self.model_dump(mode="json", exclude_none=True, exclude=set(DELIVERY_FIELDS))
        if data.get("binary_data_base64"):
            data["binary_data_base64"] = [base64_identity(v) for v in data["binary_data_base64"]]
        if data.get("image_urls") and self.image_digests:
            digests = self.image_digests
            data["image_urls"] = [digests.get(url, url) for url in data["image_urls"]]
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @property
    def request_hash(self) -> str:
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()

    @property
    def model_id(self) -> str:
        """The model this request is billed under: its ``req_key``."""
        return self.req_key

    @property
    def can_reseed(self) -> bool:
        """True when a copy with another seed is the same item (the model has a seed)."""
        return "seed" in type(self).model_fields

    @property
    def max_outputs(self) -> int:
        """How many files an answer to this request may hold: one image per call [V], unless
        the model says otherwise (即梦4.x: up to 15 minus its inputs). An answer with more
        is an error of the answer: only this many are stored."""
        return 1

    def mode_for(self, choice: ModeChoice) -> Mode:
        """``auto``: the catalog's preferred mode (sync for a model it does not list); an
        explicit mode the model does not serve is a ``ValueError``."""
        spec = CATALOG.get(self.req_key)
        if choice == "auto":
            return spec.preferred_mode if spec else "sync"
        if spec is not None and not spec.supports(choice):
            raise ValueError(f"{spec.req_key} does not support mode {choice!r} (only {spec.modes})")
        return choice

    def with_seed(self, seed: int) -> VisualRequest:
        """A copy with another seed (used for retries after output moderation)."""
        if not self.can_reseed:
            raise ValueError(f"{self.req_key} has no seed parameter")
        data = self.model_dump(exclude_none=True)
        data["seed"] = seed
        if self.image_digests:
            data["image_digests"] = self.image_digests
        return type(self).model_validate(data)

    def __repr_args__(self) -> Any:
        # Keep reprs short: base64 payloads are summarised, never dumped.
        yield from super().__repr_args__()
        if self.binary_data_base64:
            yield "binary_data_base64", f"<{len(self.binary_data_base64)} image(s)>"
