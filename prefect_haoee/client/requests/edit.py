"""Instruction and mask editing models: SeedEdit (byteedit 2.0, seededit 3.0),
inpainting edit, and 通用2.0 controlnet."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from prefect_haoee.client.requests.base import VisualRequest
from prefect_haoee.client.requests.controlnet import ControlNetArg, check_controlnet_indexes
from prefect_haoee.client.requests.rules import InputLimits, image_count


class ByteeditV20(VisualRequest):
    """通用2.0Pro-指令编辑 (SeedEdit), doc 6791/1384311: edit one image by instruction.

    Sync, and async with the same body per [T]. Known from the official intro and a [T]
    example only; example values (``seed`` -1, ``scale`` 0.5) are the defaults and
    ``negative_prompt`` (example "") is left out unless set. Guessed: ``scale`` range
    0-1, prompt and ``negative_prompt`` limits 800. Output keeps roughly the input's
    size (the catalog assumes 1024x1024).
    """

    min_images: ClassVar[int] = 1
    max_images: ClassVar[int] = 1

    req_key: Literal["byteedit_v2.0"] = "byteedit_v2.0"
    prompt: str = Field(min_length=1, max_length=800)
    negative_prompt: str | None = Field(default=None, max_length=800)
    seed: int = Field(default=-1, ge=-1)
    scale: float = Field(default=0.5, ge=0, le=1)


class SeededitV30(VisualRequest):
    """SeedEdit 3.0 (即梦 edit): edit one image by instruction.

    The official page was not found, so almost everything is a GUESS: async-only mode,
    exactly one image, ``prompt`` required (limit 800), ``scale`` 0-1 default 0.5,
    ``seed``. Output size assumed to follow the input (catalog: 1024x1024).
    """

    min_images: ClassVar[int] = 1
    max_images: ClassVar[int] = 1

    req_key: Literal["seededit_v3.0"] = "seededit_v3.0"
    prompt: str = Field(min_length=1, max_length=800)
    seed: int = Field(default=-1, ge=-1)
    scale: float = Field(default=0.5, ge=0, le=1)


class I2IInpaintingEdit(VisualRequest):
    """Inpainting edit (sync): two images, the picture then the mask, and ``custom_prompt``.

    Seen only as a [T] request example; its values (``scale`` 5, ``steps`` 25) are the
    defaults. Guessed: the image order (picture, then mask), ``scale`` range 1-20,
    ``steps`` range 1-50, ``custom_prompt`` limit 800. Output has the input's size
    (catalog: 1024x1024).
    """

    min_images: ClassVar[int] = 2
    max_images: ClassVar[int] = 2
    input_limits: ClassVar[InputLimits] = InputLimits()  # JPEG/PNG <= 4.7 MB, <= 4096²

    req_key: Literal["i2i_inpainting_edit"] = "i2i_inpainting_edit"
    custom_prompt: str = Field(min_length=1, max_length=800)
    seed: int = Field(default=-1, ge=-1)
    scale: float = Field(default=5.0, ge=1, le=20)
    steps: int = Field(default=25, ge=1, le=50)


class HighAesSchedulerSvrControlnetV20(VisualRequest):
    """通用2.0 controlnet (sync): text-to-image guided by a canny/pose/depth map of an image.

    Seen only as a [T] request example: ``model_version`` "general_controlnet_v2.0",
    ``scale`` 3 and ``ddim_steps`` 16 (used as defaults), ``controlnet_args``
    [{type "depth", binary_data_index 0, strength 0.6}]. Guessed: exactly one input image,
    ``scale`` range 1-10, ``ddim_steps`` 1-50, at most 3 ``controlnet_args``, prompt limit
    800, output 512x512. ``use_rephraser`` appears without a value: left out unless set.
    """

    min_images: ClassVar[int] = 1
    max_images: ClassVar[int] = 1

    req_key: Literal["high_aes_scheduler_svr_controlnet_v2.0"] = (
        "high_aes_scheduler_svr_controlnet_v2.0"
    )
    prompt: str = Field(min_length=1, max_length=800)
    model_version: Literal["general_controlnet_v2.0"] = "general_controlnet_v2.0"
    seed: int = Field(default=-1, ge=-1)
    scale: float = Field(default=3.0, ge=1, le=10)
    ddim_steps: int = Field(default=16, ge=1, le=50)
    use_rephraser: bool | None = None
    controlnet_args: list[ControlNetArg] | None = Field(default=None, min_length=1, max_length=3)

    @model_validator(mode="after")
    def _check_indexes(self) -> HighAesSchedulerSvrControlnetV20:
        count = image_count(self.binary_data_base64, self.image_urls)
        check_controlnet_indexes(type(self).__name__, self.controlnet_args, count)
        return self
