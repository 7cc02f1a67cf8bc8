"""Older models: 通用XL pro (text/image-to-image), 通用1.1 图生图, 动漫1.3 (``high_aes``).

Upstream documents these with legacy per-model Actions (``Img2ImgXLSft``,
``Text2ImgXLSft``, ``HighAesSmartDrawing``); through the gateway we call them with
``CVProcess`` and the same body.
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from prefect_haoee.client.requests.base import VisualRequest
from prefect_haoee.client.requests.controlnet import (
    ControlNetArg,
    StyleReferenceArgs,
    check_controlnet_indexes,
)
from prefect_haoee.client.requests.rules import (
    GUESSED_INPUT_LIMITS,
    InputLimits,
    image_count,
    require_both_or_neither,
    require_index_below,
)


class I2IXLSft(VisualRequest):
    """通用XL pro 图生图, doc 6791/1330203 (legacy ``Img2ImgXLSft``).

    From the official example: ``seed`` -1, ``ddim_steps`` 20, ``scale`` 7.0 (used as
    defaults), ``controlnet_args`` and ``style_reference_args`` pointing at input images
    by index. Ranges from third-party code [3P]: ``ddim_steps`` 1-50, ``scale`` 1-30.
    Guessed: 1-2 input images (one per role), at most 3 ``controlnet_args``, prompt
    limit 800, output around 1024x1024.
    """

    min_images: ClassVar[int] = 1
    max_images: ClassVar[int] = 2

    req_key: Literal["i2i_xl_sft"] = "i2i_xl_sft"
    prompt: str = Field(min_length=1, max_length=800)
    seed: int = Field(default=-1, ge=-1)
    ddim_steps: int = Field(default=20, ge=1, le=50)
    scale: float = Field(default=7.0, ge=1, le=30)
    controlnet_args: list[ControlNetArg] | None = Field(default=None, min_length=1, max_length=3)
    style_reference_args: StyleReferenceArgs | None = None

    @model_validator(mode="after")
    def _check_indexes(self) -> I2IXLSft:
        model = type(self).__name__
        count = image_count(self.binary_data_base64, self.image_urls)
        check_controlnet_indexes(model, self.controlnet_args, count)
        if self.style_reference_args is not None:
            index = self.style_reference_args.binary_data_index
            require_index_below(model, ("style_reference_args", "binary_data_index"), index, count)
        return self


class T2IXLSft(VisualRequest):
    """通用XL pro 文生图 (legacy ``Text2ImgXLSft``).

    No parameter table or example was found: the whole field list is a GUESS (``seed``,
    ``scale`` 1-30, ``ddim_steps`` 1-50, ``width``/``height`` 512-2048 given together,
    prompt limit 800), all left out of the body unless set except ``seed``. Output
    assumed 1024x1024 without a size.
    """

    req_key: Literal["t2i_xl_sft"] = "t2i_xl_sft"
    prompt: str = Field(min_length=1, max_length=800)
    seed: int = Field(default=-1, ge=-1)
    scale: float | None = Field(default=None, ge=1, le=30)
    ddim_steps: int | None = Field(default=None, ge=1, le=50)
    width: int | None = Field(default=None, ge=512, le=2048)
    height: int | None = Field(default=None, ge=512, le=2048)

    @model_validator(mode="after")
    def _check_size(self) -> T2IXLSft:
        require_both_or_neither(type(self).__name__, self.width, self.height)
        return self


class HighAesI2I(VisualRequest):
    """通用1.1 图生图, doc 6791/1213129 (legacy ``HighAesSmartDrawing``).

    All official: exactly one image, as ``binary_data_base64`` only; ``prompt`` ≤100
    characters (advised; enforced); ``strength`` [0, 1] default 0.5; ``scale`` [1, 30]
    default 7.5; ``ddim_steps`` [1, 50] default 20. Output: longest side 512, aspect
    kept. Input <5 MB and <4096² (not checked here). Nothing guessed.
    """

    min_images: ClassVar[int] = 1
    max_images: ClassVar[int] = 1
    base64_only: ClassVar[bool] = True
    # Official: input < 5 MB, < 4096² (formats not stated: the guessed set).
    input_limits: ClassVar[InputLimits] = replace(
        GUESSED_INPUT_LIMITS, max_bytes=5_000_000 - 1, max_side=4095
    )
    prompt_max_chars: ClassVar[int | None] = 100

    req_key: Literal["high_aes_i2i"] = "high_aes_i2i"
    prompt: str = Field(min_length=1)
    strength: float = Field(default=0.5, ge=0, le=1)
    seed: int = Field(default=-1, ge=-1)
    scale: float = Field(default=7.5, ge=1, le=30)
    ddim_steps: int = Field(default=20, ge=1, le=50)


class HighAes(VisualRequest):
    """动漫1.3 (``high_aes`` with ``model_version`` "anime_v1.3"): text- or image-to-image.

    Seen only as a [T] example; its values (``strength`` 0.7, ``scale`` 7,
    ``ddim_steps`` 20, 1024x1024) are the defaults. Guessed: at most one input image
    (image-to-image when given; ``strength`` then applies), ``strength`` range 0-1,
    ``scale`` 1-30, ``ddim_steps`` 1-50, ``width``/``height`` 256-2048, prompt limit
    800. The response carries only ``data.binary_data_base64``.
    """

    min_images: ClassVar[int] = 0
    max_images: ClassVar[int] = 1

    req_key: Literal["high_aes"] = "high_aes"
    prompt: str = Field(min_length=1, max_length=800)
    model_version: Literal["anime_v1.3"] = "anime_v1.3"
    strength: float = Field(default=0.7, ge=0, le=1)
    seed: int = Field(default=-1, ge=-1)
    scale: float = Field(default=7.0, ge=1, le=30)
    ddim_steps: int = Field(default=20, ge=1, le=50)
    width: int = Field(default=1024, ge=256, le=2048)
    height: int = Field(default=1024, ge=256, le=2048)
