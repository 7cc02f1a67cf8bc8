"""OpenAI-style image requests: generations (JSON) and edits (multipart form).

Which fields are confirmed ([T]/[3P]) or GUESS is told in :mod:`.openai_images`.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from prefect_haoee.client.families import identity as fam
from prefect_haoee.client.families.reading import encode_multipart
from prefect_haoee.client.requests.rules import WireImage, field_error

AspectRatio = Literal["4:3", "3:4", "16:9", "9:16", "2:3", "3:2", "1:1", "4:5", "5:4", "21:9"]
ImageSize = Literal["1K", "2K", "4K"]
ResponseFormat = Literal["url", "b64_json"]

MAX_REFERENCE_IMAGES = 14  # [3P] Seedream 4.0/4.5; applied to every model (GUESS)
MAX_EDIT_IMAGES = 16  # GUESS (OpenAI gpt-image-1 takes up to 16)
SEEDREAM_PREFIX = "doubao-seedream"
SEEDREAM_45_MARK = "seedream-4-5"
SEEDREAM_45_PIXELS = (2560 * 1440, 4096 * 4096)  # [3P]
_WXH = re.compile(r"^([1-9]\d{1,4})x([1-9]\d{1,4})$")


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

    @property
    def max_outputs(self) -> int:
        """``n`` images, or a Seedream group's ``max_images`` (15 when unset) [3P]."""
        if getattr(self, "sequential_image_generation", None) == "auto":
            options = getattr(self, "sequential_image_generation_options", None)
            return options.max_images if options is not None else 15
        return self.n

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
        return encode_multipart(fields, files)


ImagesRequest = ImageGenerationRequest | ImageEditRequest
