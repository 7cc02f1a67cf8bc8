"""即梦 (Jimeng) models: 2.1/3.0/3.1 text-to-image, 3.0 image-to-image, 4.0/4.6, inpainting.

All are run async (submit + poll) except 2.1, which third-party code calls both ways.
Output options (``return_url``, ``logo_info``) of async calls are chosen at poll time in
GetResult's ``req_json``.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from prefect_haoee.client.requests.base import VisualRequest
from prefect_haoee.client.requests.rules import (
    InputLimits,
    field_error,
    require_both_or_neither,
)

MIN_AREA = 1024 * 1024
MAX_AREA = 4096 * 4096
DEFAULT_AREA = 2048 * 2048


class JimengHighAesGeneralV21L(VisualRequest):
    """即梦文生图2.1 text-to-image (sync or async).

    No official parameter table was found; the field list comes from third-party code
    [3P]. Guessed: ``width``/``height`` range 256-768 (like 通用2.0Pro) and their
    pairing, prompt limit 800. ``width``/``height``/``use_pre_llm``/``use_sr`` have no
    documented default and are left out unless set (the catalog assumes 512x512).
    """

    req_key: Literal["jimeng_high_aes_general_v21_L"] = "jimeng_high_aes_general_v21_L"
    prompt: str = Field(min_length=1, max_length=800)
    seed: int = Field(default=-1, ge=-1)
    width: int | None = Field(default=None, ge=256, le=768)
    height: int | None = Field(default=None, ge=256, le=768)
    use_pre_llm: bool | None = None
    use_sr: bool | None = None

    @model_validator(mode="after")
    def _check_size(self) -> JimengHighAesGeneralV21L:
        require_both_or_neither(type(self).__name__, self.width, self.height)
        return self


class _JimengT2IV3x(VisualRequest):
    """Fields shared by 即梦文生图3.0 and 3.1 (the two differ only in ``req_key``)."""

    prompt: str = Field(min_length=1, max_length=800)
    seed: int = Field(default=-1, ge=-1)
    width: int | None = Field(default=None, ge=512, le=2048)
    height: int | None = Field(default=None, ge=512, le=2048)
    use_pre_llm: bool | None = None

    @model_validator(mode="after")
    def _check_size(self) -> _JimengT2IV3x:
        require_both_or_neither(type(self).__name__, self.width, self.height)
        return self


class JimengT2IV30(_JimengT2IV3x):
    """即梦文生图3.0 (async). One JPEG out.

    Field list from a third-party summary [3P]; recommended sizes (1328x1328, 1472x1104,
    1104x1472, 2016x864, ... the 1:1 to 21:9 set) from [3P] "from official doc".
    Guessed: ``width``/``height`` range 512-2048 and that they go together, prompt limit
    800. ``width``/``height``/``use_pre_llm`` are left out unless set (the catalog
    assumes 1328x1328).
    """

    req_key: Literal["jimeng_t2i_v30"] = "jimeng_t2i_v30"


class JimengT2IV31(_JimengT2IV3x):
    """即梦文生图3.1 (async); same body as 3.0.

    Guessed exactly as for :class:`JimengT2IV30`: ``width``/``height`` range 512-2048
    and pairing, prompt limit 800 (field list from [3P]).
    """

    req_key: Literal["jimeng_t2i_v31"] = "jimeng_t2i_v31"


class JimengI2IV30(VisualRequest):
    """即梦图生图3.0智能参考 (async): one reference image plus a prompt (≤800 chars).

    No official table seen, so every limit is a guess taken from third-party code [3P]:
    ``scale`` 0-1 default 0.5, ``width``/``height`` 512-2016 given together or not at
    all, exactly one image. Without a size the output follows the input image (the
    catalog assumes 1328x1328, a GUESS).
    """

    min_images: ClassVar[int] = 1
    max_images: ClassVar[int] = 1
    prompt_max_chars: ClassVar[int | None] = 800

    req_key: Literal["jimeng_i2i_v30"] = "jimeng_i2i_v30"
    prompt: str = Field(min_length=1)
    seed: int = Field(default=-1, ge=-1)
    scale: float = Field(default=0.5, ge=0, le=1)
    width: int | None = Field(default=None, ge=512, le=2016)
    height: int | None = Field(default=None, ge=512, le=2016)

    @model_validator(mode="after")
    def _check_size(self) -> JimengI2IV30:
        require_both_or_neither(type(self).__name__, self.width, self.height)
        return self


class _JimengSeedream(VisualRequest):
    """Fields and rules shared by 即梦4.0 and 4.6 (official pages, mirrored verbatim).

    ``size`` is the output area, default 2048² (2K), in [1024², 4096²]. ``width`` and
    ``height`` take effect only together; they override ``size``, their product must lie
    in the same range and their ratio in [``min_ratio``, ``max_ratio``]. Input images
    come as ``image_urls`` only (the official table lists no ``binary_data_base64``).
    """

    prompt_max_chars: ClassVar[int | None] = 800
    urls_only: ClassVar[bool] = True
    # 即梦4.0 page: inputs JPEG/PNG <= 15 MB, <= 4096 x 4096 (4.6: assumed the same).
    input_limits: ClassVar[InputLimits] = InputLimits(max_bytes=15_000_000)

    prompt: str = Field(min_length=1)
    size: int = Field(default=DEFAULT_AREA, ge=MIN_AREA, le=MAX_AREA)
    width: int | None = Field(default=None, ge=1)
    height: int | None = Field(default=None, ge=1)
    force_single: bool = False
    min_ratio: float = Field(default=1 / 3, ge=1 / 16, lt=16)
    max_ratio: float = Field(default=3.0, ge=1 / 16, lt=16)

    @property
    def max_outputs(self) -> int:
        """Up to 15 images minus the inputs, or one with ``force_single`` [V]."""
        inputs = len(self.image_urls or ()) + len(self.binary_data_base64 or ())
        return 1 if self.force_single else max(1, 15 - inputs)

    @model_validator(mode="after")
    def _check_seedream(self) -> _JimengSeedream:
        model = type(self).__name__
        if self.binary_data_base64:
            raise field_error(
                model,
                "binary_data_base64",
                f"{self.req_key} takes input images as image_urls only",
                len(self.binary_data_base64),
            )
        max_ratio = self.max_ratio
        if self.min_ratio > max_ratio:
            raise field_error(
                model, "min_ratio", f"min_ratio must not exceed max_ratio ({max_ratio})"
            )
        require_both_or_neither(model, self.width, self.height)
        if self.width is not None and self.height is not None:
            area = self.width * self.height
            if not MIN_AREA <= area <= MAX_AREA:
                raise field_error(
                    model,
                    "width",
                    f"width*height = {area} must lie in [{MIN_AREA}, {MAX_AREA}] (1024² to 4096²)",
                    self.width,
                )
            ratio = self.width / self.height
            if not self.min_ratio <= ratio <= max_ratio:
                raise field_error(
                    model,
                    "width",
                    f"width/height = {ratio:.3f} must lie in [min_ratio, max_ratio] = "
                    f"[{self.min_ratio:.3f}, {max_ratio:.3f}]",
                    self.width,
                )
        return self


class JimengT2IV40(_JimengSeedream):
    """即梦4.0 (async only): text-to-image, editing and multi-image composition.

    Official table (Volcengine page, verbatim mirror): 0-10 ``image_urls``, prompt ≤800
    characters (advised; enforced here), ``size``/``width``/``height`` rules as in the
    shared base, ``scale`` float 0-1 default 0.5 (two decimals), ``force_single`` default
    false, ``min_ratio`` default 1/3 and ``max_ratio`` default 3, both in [1/16, 16).
    Up to ``15 - inputs`` images come back unless ``force_single``. No limit is guessed
    (only the rule ``min_ratio <= max_ratio`` is inferred).

    Callback-mode fields (``callback_url``, and ``return_url``/``logo_info``/
    ``aigc_meta`` as JSON strings at submit time) are left out: we poll, and choose
    output options in GetResult's ``req_json``.
    """

    max_images: ClassVar[int] = 10

    req_key: Literal["jimeng_t2i_v40"] = "jimeng_t2i_v40"
    scale: float = Field(default=0.5, ge=0, le=1)


class JimengSeedream46Cvtob(_JimengSeedream):
    """即梦图片4.6 (async only); body as 即梦4.0 with 0-14 ``image_urls``.

    Differences from 4.0, read on a verbatim mirror of the official page (the research
    notes had tagged ``scale`` [3P]; the mirror confirms it): ``scale`` is an **int**
    1-100 default 50, and ``max_ratio``'s range is (1/16, 16]. No limit is guessed
    (only ``min_ratio <= max_ratio`` is inferred).

    Callback-mode fields (``callback_url``, JSON-string ``return_url``/``logo_info``/
    ``aigc_meta``) are left out: we poll.
    """

    max_images: ClassVar[int] = 14

    req_key: Literal["jimeng_seedream46_cvtob"] = "jimeng_seedream46_cvtob"
    scale: int = Field(default=50, ge=1, le=100)
    max_ratio: float = Field(default=3.0, gt=1 / 16, le=16)


class JimengImage2ImageDreamInpaint(VisualRequest):
    """即梦 inpainting / 消除笔 (async): exactly two images, the original then the mask.

    The mask is single-channel: 0 keeps a pixel, 255 repaints it. ``prompt`` ≤120
    characters; the prompt "删除" erases the masked area. ``seed`` defaults to 101.
    Output has the input's size. All from the official page (verbatim mirror); inputs
    JPEG/PNG ≤4.7 MB, ≤4096² are not checked here. Nothing guessed.
    """

    min_images: ClassVar[int] = 2
    max_images: ClassVar[int] = 2
    prompt_max_chars: ClassVar[int | None] = 120
    input_limits: ClassVar[InputLimits] = InputLimits()  # JPEG/PNG <= 4.7 MB, <= 4096²

    req_key: Literal["jimeng_image2image_dream_inpaint"] = "jimeng_image2image_dream_inpaint"
    prompt: str = Field(min_length=1)
    seed: int = Field(default=101, ge=-1)
