"""General (通用) models: 2.0/2.0Pro/2.1/1.4/3.0 text-to-image and 2.0 character keeping.

Where an official page shows only a request *example*, the example's values are used as
defaults: the body we send then always carries them, so a request hashes the same
whether the caller wrote them or not, and the gateway never falls back to an unknown
upstream default.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from prefect_haoee.client.requests.base import VisualRequest
from prefect_haoee.client.requests.rules import require_both_or_neither


class HighAesIpV20(VisualRequest):
    """通用2.0(S)-角色特征保持: keep a subject's look and face from one reference image.

    Official (doc 6791/1361423 and the Haoee page): exactly one image, ``prompt``
    required, ``cfg_rescale`` default 0.7, ``ref_ip_weight``/``ref_id_weight`` in 0..1.
    ``use_sr`` doubles the output.

    Guessed: the ranges of ``scale`` (1-10), ``ddim_steps`` (1-200) and ``width``/
    ``height`` (256-768) come from third-party code [3P]; the official page shows only
    the example values (3.5, 9, 512), which are used as defaults. The prompt limit (800)
    is a guess.
    """

    min_images: ClassVar[int] = 1
    max_images: ClassVar[int] = 1

    req_key: Literal["high_aes_ip_v20"] = "high_aes_ip_v20"
    prompt: str = Field(min_length=1, max_length=800)
    desc_pushback: bool = True
    seed: int = Field(default=-1, ge=-1)
    scale: float = Field(default=3.5, ge=1, le=10)
    ddim_steps: int = Field(default=9, ge=1, le=200)
    width: int = Field(default=512, ge=256, le=768)
    height: int = Field(default=512, ge=256, le=768)
    cfg_rescale: float = Field(default=0.7, ge=0, le=1)
    ref_ip_weight: float = Field(default=0.7, ge=0, le=1)
    ref_id_weight: float = Field(default=0.36, ge=0, le=1)
    use_sr: bool = True


class HighAesGeneralV20L(VisualRequest):
    """通用2.0Pro (formerly "2.0L") text-to-image; sync 6791/1339374, async 6791/1359424.

    Official: ``width``/``height`` 256-768 (size before SR; ``use_sr`` doubles it), the
    fixed ``model_version`` and ``req_schedule_conf`` values, "keep ``ddim_steps`` at its
    default, high values time out".

    Guessed: ``scale`` range 1-10 and ``ddim_steps`` range 1-50 (not seen; the example
    values 3.5 and 16 are the defaults); prompt limit 800. ``use_sr`` and ``use_pre_llm``
    have no documented default and are left out unless set.
    """

    req_key: Literal["high_aes_general_v20_L"] = "high_aes_general_v20_L"
    prompt: str = Field(min_length=1, max_length=800)
    model_version: Literal["general_v2.0_L"] = "general_v2.0_L"
    req_schedule_conf: Literal["general_v20_9B_rephraser"] = "general_v20_9B_rephraser"
    seed: int = Field(default=-1, ge=-1)
    scale: float = Field(default=3.5, ge=1, le=10)
    ddim_steps: int = Field(default=16, ge=1, le=50)
    width: int = Field(default=512, ge=256, le=768)
    height: int = Field(default=512, ge=256, le=768)
    use_sr: bool | None = None
    use_pre_llm: bool | None = None


class HighAesGeneralV20(VisualRequest):
    """通用2.0(S) text-to-image (async), doc 6791/1347773.

    Official: ``model_version`` "general_v2.0" (required), ``width``/``height`` 256-680.

    Guessed: ``scale`` range 1-10 (example 3.5 is the default) and ``ddim_steps`` 1-50
    (no example: left out unless set); prompt limit 800; that ``width`` and ``height``
    go together. They and ``use_sr`` have no documented default and are left out unless
    set (the catalog assumes 512x512).
    """

    req_key: Literal["high_aes_general_v20"] = "high_aes_general_v20"
    prompt: str = Field(min_length=1, max_length=800)
    model_version: Literal["general_v2.0"] = "general_v2.0"
    seed: int = Field(default=-1, ge=-1)
    scale: float = Field(default=3.5, ge=1, le=10)
    ddim_steps: int | None = Field(default=None, ge=1, le=50)
    width: int | None = Field(default=None, ge=256, le=680)
    height: int | None = Field(default=None, ge=256, le=680)
    use_sr: bool | None = None

    @model_validator(mode="after")
    def _check_size(self) -> HighAesGeneralV20:
        require_both_or_neither(type(self).__name__, self.width, self.height)
        return self


class HighAesGeneralV21L(VisualRequest):
    """通用2.1 text-to-image (sync).

    Only a widely copied official *example* is known; its values are the defaults. Every
    range is guessed: ``width``/``height`` 256-768 (like 2.0Pro), ``scale`` and
    ``sr_scale`` 1-10, ``ddim_steps`` and ``sr_steps`` 1-50, ``sr_strength`` 0-1,
    prompt limit 800.

    The request is deterministic only when ``seed`` and, where they are used,
    ``llm_seed`` (prompt expansion, ``use_pre_llm``) and ``sr_seed`` (``use_sr``) are
    all fixed.
    """

    req_key: Literal["high_aes_general_v21_L"] = "high_aes_general_v21_L"
    prompt: str = Field(min_length=1, max_length=800)
    model_version: Literal["general_v2.1_L"] = "general_v2.1_L"
    req_schedule_conf: Literal["general_v20_9B_pe"] = "general_v20_9B_pe"
    llm_seed: int = Field(default=-1, ge=-1)
    seed: int = Field(default=-1, ge=-1)
    scale: float = Field(default=3.5, ge=1, le=10)
    ddim_steps: int = Field(default=25, ge=1, le=50)
    width: int = Field(default=512, ge=256, le=768)
    height: int = Field(default=512, ge=256, le=768)
    use_pre_llm: bool = True
    use_sr: bool = True
    sr_seed: int = Field(default=-1, ge=-1)
    sr_strength: float = Field(default=0.4, ge=0, le=1)
    sr_scale: float = Field(default=3.5, ge=1, le=10)
    sr_steps: int = Field(default=20, ge=1, le=50)
    is_only_sr: bool = False

    @property
    def is_deterministic(self) -> bool:
        if self.seed == -1:
            return False
        if self.use_pre_llm and self.llm_seed == -1:
            return False
        return not (self.use_sr and self.sr_seed == -1)


class HighAesGeneralV14(VisualRequest):
    """通用1.4 text-to-image (legacy ``HighAesSmartDrawing``; called via CVProcess).

    Only the official *example* is known; its values are the defaults. Guessed:
    ``width``/``height`` 256-768, ``scale`` 1-30, ``ddim_steps`` 1-50, prompt limit 800.
    """

    req_key: Literal["high_aes_general_v14"] = "high_aes_general_v14"
    prompt: str = Field(min_length=1, max_length=800)
    model_version: Literal["general_v1.4"] = "general_v1.4"
    seed: int = Field(default=-1, ge=-1)
    scale: float = Field(default=3.0, ge=1, le=30)
    ddim_steps: int = Field(default=25, ge=1, le=50)
    width: int = Field(default=512, ge=256, le=768)
    height: int = Field(default=512, ge=256, le=768)
    use_rephraser: bool = True
    use_predict_tags: bool = True


class HighAesGeneralV30LZT2I(VisualRequest):
    """即梦3.0 text-to-image as served under ``high_aes_general_v30l_zt2i`` (sync).

    Seen only as a request example on a sibling gateway [T]; example values (``scale``
    2.5, 1328x1328) are the defaults. Guessed: ``scale`` range 1-10 [3P clamp],
    ``width``/``height`` 512-2048 (GUESS), prompt limit 800. ``use_pre_llm`` appears in
    the example without a known value: left out unless set.
    """

    req_key: Literal["high_aes_general_v30l_zt2i"] = "high_aes_general_v30l_zt2i"
    prompt: str = Field(min_length=1, max_length=800)
    seed: int = Field(default=-1, ge=-1)
    scale: float = Field(default=2.5, ge=1, le=10)
    width: int = Field(default=1328, ge=512, le=2048)
    height: int = Field(default=1328, ge=512, le=2048)
    use_pre_llm: bool | None = None
