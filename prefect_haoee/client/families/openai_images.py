"""OpenAI-style images: every shape of this family, confirmed or guessed, is in this file.

Source: ``shared/api/other-endpoints.md`` §1. [T] = docs.yutoai.net (same Apifox template
and page titles as Haoee), [3P] = other gateways on the same upstream conventions, GUESS =
seen nowhere. Nothing here is confirmed for Haoee itself.

Confirmed by the docs:

* [T] ``POST /v1/images/generations``, JSON ``model``, ``prompt``, ``n``, ``size``,
  ``response_format`` ``url``/``b64_json``; ``aspect_ratio`` enum (4:3 3:4 16:9 9:16 2:3
  3:2 1:1 4:5 5:4 21:9, nano-banana); ``image`` = array of reference images (URL or
  base64); ``image_size`` 1K/2K/4K (nano-banana-2 only).
* [3P] Seedream extras: ``sequential_image_generation`` auto/disabled,
  ``sequential_image_generation_options.max_images`` 1-15, ``watermark``; at most 14
  references; ``size`` ``2K``/``4K`` or ``WxH``; Seedream 4.5 takes 2560x1440..4096x4096
  pixels, aspect 1/16..16.
* [T]/OpenAI answer ``{"created", "data": [{"url"} | {"b64_json"}]}`` ([T]'s example is
  empty; [3P] Seedream adds ``model``, ``usage``).
* [T] async wrapper: the same path + ``?async=true`` [+ ``&webhook=<url>``], answering
  ``{"task_id"}`` **or** ``{code, message, data: <id>}`` (both accepted); poll
  ``GET /v1/images/tasks/{task_id}`` (the path only).

GUESS:

* ``POST /v1/images/edits`` as an OpenAI multipart form: ``image`` (one file) or
  ``image[]`` (several), ``mask``, ``prompt``, ``model``, ``n``, ``size``,
  ``response_format``; the answer as for generations.
* The poll answer: the gateway's task object ``{code, message, data: {task_id, status
  NOT_START/SUBMITTED/QUEUED/IN_PROGRESS/SUCCESS/FAILURE, progress "45%", fail_reason,
  data: <images answer>}}``. Also accepted: the task object bare, ``status`` /
  ``task_status`` / ``state`` keys, OpenAI-like ``completed``/``failed``, and image URLs
  (or ``b64_json``) anywhere under ``url``/``image_url``/``urls``/``image_urls``.
* Error bodies ``{"error": {"message", "type", "code"}}`` with OpenAI-like string codes
  (``rate_limit_exceeded``, ``content_policy_violation``...).
* ``response_format`` is a delivery option, left out of the request hash (our choice);
  the 14-reference cap is applied to every model.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from prefect_haoee.client.answers import OPENAI_STYLE_ERRORS
from prefect_haoee.client.errors import TransportError
from prefect_haoee.client.families import base as fam
from prefect_haoee.client.families.reading import GATEWAY_TASK_STATUSES
from prefect_haoee.client.requests.rules import WireImage, field_error
from prefect_haoee.client.responses import GeneratedImages

GENERATIONS_PATH = "/v1/images/generations"
EDITS_PATH = "/v1/images/edits"
TASK_PATH = "/v1/images/tasks/{job_id}"  # [T]

AspectRatio = Literal["4:3", "3:4", "16:9", "9:16", "2:3", "3:2", "1:1", "4:5", "5:4", "21:9"]
ImageSize = Literal["1K", "2K", "4K"]
ResponseFormat = Literal["url", "b64_json"]

MAX_REFERENCE_IMAGES = 14  # [3P] Seedream 4.0/4.5; applied to every model (GUESS)
MAX_EDIT_IMAGES = 16  # GUESS (OpenAI gpt-image-1 takes up to 16)
SEEDREAM_PREFIX = "doubao-seedream"
SEEDREAM_45_MARK = "seedream-4-5"
SEEDREAM_45_PIXELS = (2560 * 1440, 4096 * 4096)  # [3P]
_WXH = re.compile(r"^([1-9]\d{1,4})x([1-9]\d{1,4})$")

# GUESS: task status strings (the gateway's task convention, as suno's).
STATUSES = dict(GATEWAY_TASK_STATUSES)

# GUESS: OpenAI-style error codes.
ERRORS = OPENAI_STYLE_ERRORS.extended(
    moderation={"prompt_blocked"}, server={"bad_response_status_code"}
)


def _check_reference(i: int, value: str) -> None:
    if value.startswith(("http://", "https://")):
        return
    payload = value
    if value.startswith("data:"):
        head, sep, payload = value.partition(",")
        if not sep or not head.endswith(";base64") or not head[5:].startswith("image/"):
            raise ValueError(f"item {i}: a data URL must be data:image/...;base64,...")
    try:
        base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"item {i}: neither an http(s) URL nor valid base64") from None
    if not payload:
        raise ValueError(f"item {i}: empty image")


class SequentialOptions(BaseModel):
    """Seedream group generation options [3P]."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_images: int = Field(ge=1, le=15)


class _ImagesRequest(fam.FamilyRequest):
    family: ClassVar[fam.FamilyName] = "openai_images"
    kind: ClassVar[fam.MediaKind] = "image"
    delivery_fields: ClassVar[frozenset[str]] = frozenset({"response_format"})

    model: str = Field(min_length=1, max_length=128)
    prompt: str = Field(min_length=1, max_length=32_000)
    n: int = Field(default=1, ge=1, le=10)
    size: str | None = None
    response_format: ResponseFormat = "url"

    @property
    def is_seedream(self) -> bool:
        return self.model.startswith(SEEDREAM_PREFIX)

    def _check_size(self) -> None:
        size = self.size
        if size is None or size == "auto":
            return
        name = type(self).__name__
        match = _WXH.match(size)
        if match is None:
            if size in ("1K", "2K", "4K") and self.is_seedream:
                if SEEDREAM_45_MARK in self.model and size == "1K":
                    raise field_error(name, "size", "Seedream 4.5 takes 2K or 4K (or WxH)", size)
                return
            want = "'WxH' (e.g. '1024x1024')" + (", '2K' or '4K'" if self.is_seedream else "")
            raise field_error(name, "size", f"size must be {want}, got {size!r}", size)
        width, height = int(match.group(1)), int(match.group(2))
        if SEEDREAM_45_MARK in self.model:
            low, high = SEEDREAM_45_PIXELS
            if not low <= width * height <= high:
                raise field_error(
                    name,
                    "size",
                    f"Seedream 4.5 takes {low} to {high} pixels, got {width}x{height}",
                    size,
                )
            if not 1 / 16 <= width / height <= 16:
                raise field_error(name, "size", "Seedream aspect ratio must be 1/16..16", size)


class ImageGenerationRequest(_ImagesRequest):
    """``POST /v1/images/generations`` (sync) or its ``?async=true`` task (``submit_job``)."""

    image_fields: ClassVar[frozenset[str]] = frozenset({"image"})
    max_references: ClassVar[int] = MAX_REFERENCE_IMAGES

    @classmethod
    def reference_fields(cls, images: Sequence[WireImage]) -> dict[str, Any]:
        """https references as ``image`` URLs (files and S3 objects go to the edits form)."""
        if not images:
            return {}
        cls.check_reference_count(images)
        if any(image.url is None for image in images):
            raise ValueError("image generations take reference URLs; files go to edits")
        return {"image": [image.url for image in images]}

    aspect_ratio: AspectRatio | None = None
    image: list[str] | None = Field(default=None, repr=False)
    """Reference images for image-to-image: http(s) URLs, data URLs or raw base64 [T]."""
    image_size: ImageSize | None = None
    sequential_image_generation: Literal["auto", "disabled"] | None = None
    sequential_image_generation_options: SequentialOptions | None = None
    watermark: bool | None = None

    @field_validator("image")
    @classmethod
    def _check_images(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("give at least one reference image or leave image out")
        if len(value) > MAX_REFERENCE_IMAGES:
            raise ValueError(f"at most {MAX_REFERENCE_IMAGES} reference images, got {len(value)}")
        for i, item in enumerate(value):
            _check_reference(i, item)
        return value

    @model_validator(mode="after")
    def _check_rules(self) -> ImageGenerationRequest:
        name = type(self).__name__
        self._check_size()
        if self.image_size is not None and not self.model.startswith("nano-banana-2"):
            raise field_error(name, "image_size", "image_size is a nano-banana-2 option", None)
        for extra in ("sequential_image_generation", "sequential_image_generation_options"):
            if getattr(self, extra) is not None and not self.is_seedream:
                raise field_error(name, extra, f"{extra} is a Seedream option", None)
        if self.sequential_image_generation_options is not None and (
            self.sequential_image_generation != "auto"
        ):
            raise field_error(
                name,
                "sequential_image_generation_options",
                "needs sequential_image_generation='auto'",
                None,
            )
        return self

    @property
    def variant(self) -> str:
        return "generations"


def _image_type(data: bytes) -> tuple[str, str]:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png", "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg", "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp", "image/webp"
    return "bin", "application/octet-stream"


class ImageEditRequest(_ImagesRequest):
    """``POST /v1/images/edits`` (multipart form, GUESS); input images as raw base64."""

    image_fields: ClassVar[frozenset[str]] = frozenset({"image", "mask"})
    max_references: ClassVar[int] = MAX_EDIT_IMAGES

    image: list[str] = Field(min_length=1, max_length=MAX_EDIT_IMAGES, repr=False)
    mask: str | None = Field(default=None, repr=False)

    @classmethod
    def reference_fields(cls, images: Sequence[WireImage]) -> dict[str, Any]:
        """Files and S3 objects as the form's ``image``/``image[]`` parts (multipart)."""
        cls.check_reference_count(images)
        if any(image.base64 is None for image in images):
            raise ValueError(
                "image edits upload files (multipart): use local paths or s3:// objects, "
                "or only https:// URLs (image generations), not both"
            )
        return {"image": [image.base64 for image in images]}

    @field_validator("image")
    @classmethod
    def _check_images(cls, value: list[str]) -> list[str]:
        for i, item in enumerate(value):
            if not item:
                raise ValueError(f"item {i}: empty image")
            try:
                base64.b64decode(item, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError(f"item {i}: not valid raw base64 (no data: prefix)") from None
        return value

    @field_validator("mask")
    @classmethod
    def _check_mask(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError("mask is not valid raw base64") from None
        return value

    @model_validator(mode="after")
    def _check_rules(self) -> ImageEditRequest:
        self._check_size()
        return self

    @property
    def variant(self) -> str:
        return "edits"

    def multipart(self) -> tuple[bytes, str]:
        """The form: text fields, then ``image`` (one) or ``image[]`` (several), ``mask``."""
        body = self.to_body()
        fields = {
            k: str(v) for k, v in body.items() if k not in ("image", "mask") and v is not None
        }
        files: list[tuple[str, tuple[str, bytes, str]]] = []
        key = "image" if len(self.image) == 1 else "image[]"
        for i, item in enumerate(self.image):
            data = base64.b64decode(item)
            ext, ctype = _image_type(data)
            files.append((key, (f"image_{i}.{ext}", data, ctype)))
        if self.mask is not None:
            data = base64.b64decode(self.mask)
            ext, ctype = _image_type(data)
            files.append(("mask", (f"mask.{ext}", data, ctype)))
        return fam.encode_multipart(fields, files)


ImagesRequest = ImageGenerationRequest | ImageEditRequest


Params = tuple[tuple[str, str], ...]


def _call(
    request: fam.FamilyRequest, purpose: Literal["generate", "submit"], params: Params
) -> fam.HttpCall:
    if isinstance(request, ImageEditRequest):
        content, ctype = request.multipart()
        family: fam.FamilyName = "openai_images"
        return fam.HttpCall(
            family, purpose, "POST", EDITS_PATH, params, content=content, content_type=ctype
        )
    if isinstance(request, ImageGenerationRequest):
        return fam.HttpCall(
            "openai_images", purpose, "POST", GENERATIONS_PATH, params, json=request.to_body()
        )
    raise TypeError(f"not an images request: {type(request).__name__}")


def images_from_answer(payload: Any, request_id: str | None = None) -> GeneratedImages:
    """``{"created", "data": [{"url"} | {"b64_json"}]}`` (also inside a ``data`` envelope)."""
    items = payload.get("data") if isinstance(payload, dict) else None
    if isinstance(items, dict):  # {code, data: {created, data: [...]}}
        payload, items = items, items.get("data")
    if not isinstance(items, list):
        raise TransportError("the images answer has no data list")
    urls = [i["url"] for i in items if isinstance(i, dict) and isinstance(i.get("url"), str)]
    b64 = [
        i["b64_json"] for i in items if isinstance(i, dict) and isinstance(i.get("b64_json"), str)
    ]
    extras = {k: v for k, v in payload.items() if k != "data"} if isinstance(payload, dict) else {}
    revised = [i.get("revised_prompt") for i in items if isinstance(i, dict)]
    if any(revised):
        extras["revised_prompts"] = revised
    return GeneratedImages(
        urls=[u for u in urls if u],
        base64=[b for b in b64 if b],
        request_id=request_id,
        extras=extras,
    )


class OpenAIImagesAdapter(fam.FamilyAdapter):
    errors = ERRORS
    statuses = STATUSES
    status_keys = ("status", "task_status", "state")
    reason_keys = ("fail_reason", "message")
    no_status = "the image task answer has no status"
    request_types = (ImageGenerationRequest, ImageEditRequest)
    supports_webhook = True
    poll_path = TASK_PATH
    id_keys = ("task_id", "id")
    model_patterns = (
        r"^sora_image$",
        r"^(doubao-seedream|doubao-seededit|nano-banana|gpt-4o-image|gpt-image|"
        r"qwen-image|flux|dall-e)[\w.-]*$",
    )
    modes = ("sync", "async")
    price = 0.30
    example = "nano-banana"
    rank = 5

    def generate_call(self, request: fam.FamilyRequest) -> fam.HttpCall:
        return _call(request, "generate", ())

    def submit_call(
        self, request: fam.FamilyRequest, *, webhook: str | None = None
    ) -> fam.HttpCall:
        params: tuple[tuple[str, str], ...] = (("async", "true"),)
        if webhook:
            params += (("webhook", webhook),)
        return _call(request, "submit", params)

    def files_of(self, task: Any, handle: fam.JobHandle, base_url: str) -> dict[str, Any]:
        urls = fam.collect_strings(
            task,
            frozenset({"url", "image_url", "b64_json"}),
            list_keys=frozenset({"urls", "image_urls"}),
        )
        return {"file_urls": urls}


ADAPTER = OpenAIImagesAdapter()

__all__ = [
    "ADAPTER",
    "ERRORS",
    "STATUSES",
    "ImageEditRequest",
    "ImageGenerationRequest",
    "ImagesRequest",
    "OpenAIImagesAdapter",
    "SequentialOptions",
    "images_from_answer",
]
