"""What the client knows of each ``req_key``: modes, image inputs, output size rule.

Shared with the simulator (which keeps its own request checks), so this module must not
import the request models. ``limits_guessed`` marks models whose ranges come partly or
wholly from third-party code or inference rather than an official page (each request
model's docstring names the guessed fields). ``min_images``/``max_images`` mirror the
request models' class variables (a test keeps them in step).

Modes: models documented as sync (``CVProcess``) or with legacy per-model Actions are
sync-only (legacy ones are called via ``CVProcess`` through the gateway); the first mode
listed is the preferred one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from math import isqrt
from typing import Any, Literal

Mode = Literal["sync", "async"]


@dataclass(frozen=True)
class ModelSpec:
    req_key: str
    title: str
    modes: tuple[Mode, ...]
    """Modes the gateway serves for this req_key; the first is the preferred one."""
    min_images: int
    max_images: int
    output_rule: str
    """How the output size follows from the request (human-readable)."""
    default_size: tuple[int, int]
    """Width, height of the output when the request does not set a size (before SR)."""
    limits_guessed: bool = False
    doc: str = ""

    @property
    def preferred_mode(self) -> Mode:
        return self.modes[0]

    def supports(self, mode: Mode) -> bool:
        return mode in self.modes


SYNC: tuple[Mode, ...] = ("sync",)
ASYNC: tuple[Mode, ...] = ("async",)
SYNC_OR_ASYNC: tuple[Mode, ...] = ("sync", "async")

_SIZE_RULE = "width x height, doubled with use_sr"
_INPUT_RULE = "about the input image's size (not modelled: default_size)"

SPECS: tuple[ModelSpec, ...] = (
    # -- general (通用) --------------------------------------------------------------------
    ModelSpec(
        req_key="high_aes_ip_v20",
        title="通用2.0(S)-角色特征保持",
        modes=SYNC,
        min_images=1,
        max_images=1,
        output_rule=_SIZE_RULE,
        default_size=(512, 512),
        limits_guessed=True,
        doc="6791/1361423",
    ),
    ModelSpec(
        req_key="high_aes_general_v20_L",
        title="通用2.0Pro-文生图",
        modes=SYNC_OR_ASYNC,
        min_images=0,
        max_images=0,
        output_rule=_SIZE_RULE,
        default_size=(512, 512),
        limits_guessed=True,
        doc="6791/1339374",
    ),
    ModelSpec(
        req_key="high_aes_general_v20",
        title="通用2.0(S)-文生图",
        modes=ASYNC,
        min_images=0,
        max_images=0,
        output_rule=_SIZE_RULE + "; 512x512 when unset (GUESS)",
        default_size=(512, 512),
        limits_guessed=True,
        doc="6791/1347773",
    ),
    ModelSpec(
        req_key="high_aes_general_v21_L",
        title="通用2.1-文生图",
        modes=SYNC,
        min_images=0,
        max_images=0,
        output_rule=_SIZE_RULE,
        default_size=(512, 512),
        limits_guessed=True,
    ),
    ModelSpec(
        req_key="high_aes_general_v14",
        title="通用1.4-文生图",
        modes=SYNC,
        min_images=0,
        max_images=0,
        output_rule="width x height",
        default_size=(512, 512),
        limits_guessed=True,
    ),
    ModelSpec(
        req_key="high_aes_general_v30l_zt2i",
        title="即梦3.0-文生图 (high_aes_general_v30l_zt2i)",
        modes=SYNC,
        min_images=0,
        max_images=0,
        output_rule="width x height",
        default_size=(1328, 1328),
        limits_guessed=True,
    ),
    # -- jimeng (即梦) ---------------------------------------------------------------------
    ModelSpec(
        req_key="jimeng_high_aes_general_v21_L",
        title="即梦文生图2.1",
        modes=SYNC_OR_ASYNC,
        min_images=0,
        max_images=0,
        output_rule=_SIZE_RULE + "; 512x512 when unset (GUESS)",
        default_size=(512, 512),
        limits_guessed=True,
    ),
    ModelSpec(
        req_key="jimeng_t2i_v30",
        title="即梦文生图3.0",
        modes=ASYNC,
        min_images=0,
        max_images=0,
        output_rule="width x height; 1328x1328 when unset (GUESS); one JPEG",
        default_size=(1328, 1328),
        limits_guessed=True,
    ),
    ModelSpec(
        req_key="jimeng_t2i_v31",
        title="即梦文生图3.1",
        modes=ASYNC,
        min_images=0,
        max_images=0,
        output_rule="width x height; 1328x1328 when unset (GUESS); one JPEG",
        default_size=(1328, 1328),
        limits_guessed=True,
    ),
    ModelSpec(
        req_key="jimeng_i2i_v30",
        title="即梦图生图3.0智能参考",
        modes=ASYNC,
        min_images=1,
        max_images=1,
        output_rule="width x height; else follows the input (not modelled: default_size)",
        default_size=(1328, 1328),
        limits_guessed=True,
    ),
    ModelSpec(
        req_key="jimeng_t2i_v40",
        title="即梦4.0",
        modes=ASYNC,
        min_images=0,
        max_images=10,
        output_rule="width x height; else a square of area size (the model picks the "
        "aspect); up to 15 - inputs images unless force_single",
        default_size=(2048, 2048),
        limits_guessed=False,
    ),
    ModelSpec(
        req_key="jimeng_seedream46_cvtob",
        title="即梦图片4.6",
        modes=ASYNC,
        min_images=0,
        max_images=14,
        output_rule="width x height; else a square of area size (the model picks the "
        "aspect); up to 15 - inputs images unless force_single",
        default_size=(2048, 2048),
        limits_guessed=False,
    ),
    ModelSpec(
        req_key="jimeng_image2image_dream_inpaint",
        title="即梦 inpainting / 消除笔",
        modes=ASYNC,
        min_images=2,
        max_images=2,
        output_rule="same size as the input image (not modelled: default_size)",
        default_size=(1024, 1024),
        limits_guessed=False,
    ),
    # -- edit --------------------------------------------------------------------------
    ModelSpec(
        req_key="byteedit_v2.0",
        title="通用2.0Pro-指令编辑 (SeedEdit)",
        modes=SYNC_OR_ASYNC,
        min_images=1,
        max_images=1,
        output_rule=_INPUT_RULE,
        default_size=(1024, 1024),
        limits_guessed=True,
        doc="6791/1384311",
    ),
    ModelSpec(
        req_key="seededit_v3.0",
        title="SeedEdit 3.0",
        modes=ASYNC,
        min_images=1,
        max_images=1,
        output_rule=_INPUT_RULE,
        default_size=(1024, 1024),
        limits_guessed=True,
    ),
    ModelSpec(
        req_key="i2i_inpainting_edit",
        title="inpainting edit",
        modes=SYNC,
        min_images=2,
        max_images=2,
        output_rule="same size as the input image (not modelled: default_size)",
        default_size=(1024, 1024),
        limits_guessed=True,
    ),
    ModelSpec(
        req_key="high_aes_scheduler_svr_controlnet_v2.0",
        title="通用2.0-controlnet",
        modes=SYNC,
        min_images=1,
        max_images=1,
        output_rule="512x512 (GUESS)",
        default_size=(512, 512),
        limits_guessed=True,
    ),
    # -- legacy ------------------------------------------------------------------------
    ModelSpec(
        req_key="i2i_xl_sft",
        title="通用XL pro-图生图",
        modes=SYNC,
        min_images=1,
        max_images=2,
        output_rule="about 1024x1024 (GUESS)",
        default_size=(1024, 1024),
        limits_guessed=True,
        doc="6791/1330203",
    ),
    ModelSpec(
        req_key="t2i_xl_sft",
        title="通用XL pro-文生图",
        modes=SYNC,
        min_images=0,
        max_images=0,
        output_rule="width x height; 1024x1024 when unset (GUESS)",
        default_size=(1024, 1024),
        limits_guessed=True,
    ),
    ModelSpec(
        req_key="high_aes_i2i",
        title="通用1.1-图生图",
        modes=SYNC,
        min_images=1,
        max_images=1,
        output_rule="longest side 512, input aspect kept (not modelled: 512x512)",
        default_size=(512, 512),
        limits_guessed=False,
        doc="6791/1213129",
    ),
    ModelSpec(
        req_key="high_aes",
        title="动漫1.3.X-文生图/图生图 (anime_v1.3)",
        modes=SYNC,
        min_images=0,
        max_images=1,
        output_rule="width x height",
        default_size=(1024, 1024),
        limits_guessed=True,
    ),
    # -- portrait (人像保持) ----------------------------------------------------------------
    ModelSpec(
        req_key="img2img_anime_accelerated_maintain_id",
        title="人像保持",
        modes=SYNC_OR_ASYNC,
        min_images=1,
        max_images=2,
        output_rule="width x height; 1024x1024 when unset (GUESS)",
        default_size=(1024, 1024),
        limits_guessed=True,
        doc="6791/1316308",
    ),
    ModelSpec(
        req_key="img2img_stable_accelerated_maintain_id_usage",
        title="人像保持(动漫版)",
        modes=SYNC,
        min_images=1,
        max_images=1,
        output_rule="width x height (default 1000x1000)",
        default_size=(1000, 1000),
        limits_guessed=True,
        doc="6793/1357816",
    ),
)

CATALOG: dict[str, ModelSpec] = {spec.req_key: spec for spec in SPECS}


def register(spec: ModelSpec) -> ModelSpec:
    CATALOG[spec.req_key] = spec
    return spec


def get_spec(req_key: str) -> ModelSpec:
    try:
        return CATALOG[req_key]
    except KeyError:
        known = ", ".join(sorted(CATALOG))
        raise KeyError(f"unknown req_key {req_key!r}; known: {known}") from None


def output_size(request: object) -> tuple[int, int]:
    """Expected (width, height) of each output image of ``request``.

    ``request`` is a request model or a raw body (a mapping); only ``req_key``,
    ``width``, ``height``, ``size`` and ``use_sr`` are read. The rule, simple on purpose:

    1. ``width`` and ``height`` when both are set;
    2. else, when ``size`` (an area, 即梦4.0/4.6) is set, the square of that area;
    3. else ``default_size`` of the req_key;
    4. doubled when ``use_sr`` is true (unset counts as off).

    Models whose output follows the input image (edits, inpainting, 通用1.1) are not
    modelled: they get ``default_size``. The request models reject ``width`` without
    ``height`` (and the reverse) wherever a size can be set without a default, so rule 1
    never sees half a size from a validated request. The simulator applies the same rule.
    """
    get = _getter(request)
    spec = get_spec(str(get("req_key")))
    width, height, size = get("width"), get("height"), get("size")
    if isinstance(width, int) and isinstance(height, int):
        w, h = width, height
    elif isinstance(size, int) and size > 0:
        w = h = isqrt(size)
    else:
        w, h = spec.default_size
    if get("use_sr") is True:
        w, h = w * 2, h * 2
    return w, h


def _getter(request: object) -> Callable[[str], Any]:
    if isinstance(request, Mapping):
        return request.get
    return lambda name: getattr(request, name, None)
