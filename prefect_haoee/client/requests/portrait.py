"""Portrait keeping (人像保持) models: keep a person's identity in a new picture."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from prefect_haoee.client.requests.base import VisualRequest
from prefect_haoee.client.requests.rules import (
    IMAGE_REF_PATTERN,
    InputLimits,
    field_error,
    image_count,
    parse_image_ref,
    require_index_below,
)

DEFAULT_POSITIVE_PROMPT = "1girl,beautiful,looking at viewer,portrait,"


class Img2ImgAnimeAcceleratedMaintainID(VisualRequest):
    """人像保持, sync 6791/1316308, async 6791/1335036.

    Official: no prompt required; ``positive_prompt`` default
    "1girl,beautiful,looking at viewer,portrait,", ``hyper_switch`` default false,
    ``seed`` -1, ``step`` default 18, ``cfg`` default 4.5; ``face_image``/``style_image``
    reference inputs as ``"uri://binary_data?index=N"`` (N must name a given image);
    inputs JPG/PNG/BMP 128²-4096², base64 ≤4.7 MB each and ≤8 MB for two (sizes are not
    checked here).

    Guessed: 1-2 input images (face and style; "two" is the most the size limit speaks
    of), ``step`` range 1-50, ``cfg`` 1-20, ``width``/``height`` 256-2048 (no default
    documented: left out unless set; catalog assumes 1024x1024), ``positive_prompt``
    limit 800. ``face_switch``/``facestyle_switch``/``style_switch`` have no documented
    default and are left out unless set.
    """

    min_images: ClassVar[int] = 1
    max_images: ClassVar[int] = 2
    # Official: JPG/PNG/BMP, 128²-4096², base64 <= 4.7 MB each and <= 8 MB for two.
    input_limits: ClassVar[InputLimits] = InputLimits(
        formats=frozenset({"JPEG", "PNG", "BMP"}), max_total_bytes=8_000_000, min_side=128
    )

    req_key: Literal["img2img_anime_accelerated_maintain_id"] = (
        "img2img_anime_accelerated_maintain_id"
    )
    positive_prompt: str = Field(default=DEFAULT_POSITIVE_PROMPT, max_length=800)
    hyper_switch: bool = False
    seed: int = Field(default=-1, ge=-1)
    step: int = Field(default=18, ge=1, le=50)
    cfg: float = Field(default=4.5, ge=1, le=20)
    face_image: str | None = Field(default=None, pattern=IMAGE_REF_PATTERN)
    style_image: str | None = Field(default=None, pattern=IMAGE_REF_PATTERN)
    face_switch: bool | None = None
    facestyle_switch: bool | None = None
    style_switch: bool | None = None
    width: int | None = Field(default=None, ge=256, le=2048)
    height: int | None = Field(default=None, ge=256, le=2048)

    @model_validator(mode="after")
    def _check_refs(self) -> Img2ImgAnimeAcceleratedMaintainID:
        model = type(self).__name__
        count = image_count(self.binary_data_base64, self.image_urls)
        for name in ("face_image", "style_image"):
            value: str | None = getattr(self, name)
            if value is None:
                continue
            index = parse_image_ref(value)
            if index is None:  # pragma: no cover - the field pattern rejects this first
                raise field_error(model, name, "must be 'uri://binary_data?index=N'", value)
            require_index_below(model, name, index, count)
        return self


class Img2ImgStableAcceleratedMaintainIDUsage(VisualRequest):
    """人像保持(动漫版), doc 6793/1357816 (sync): restyle a portrait, keeping the face.

    Official: an input image is required; ``width``/``height`` default 1000 ("do not go
    far above 1280"); ``positive_prompt``/``negative_prompt`` optional.

    Guessed: exactly one input image, ``width``/``height`` range 256-1536, prompt
    limits 800.
    """

    min_images: ClassVar[int] = 1
    max_images: ClassVar[int] = 1

    req_key: Literal["img2img_stable_accelerated_maintain_id_usage"] = (
        "img2img_stable_accelerated_maintain_id_usage"
    )
    positive_prompt: str | None = Field(default=None, max_length=800)
    negative_prompt: str | None = Field(default=None, max_length=800)
    width: int = Field(default=1000, ge=256, le=1536)
    height: int = Field(default=1000, ge=256, le=1536)
