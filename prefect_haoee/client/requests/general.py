"""General (通用) 2.x text-to-image and character-keeping models."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from prefect_haoee.client.requests.base import VisualRequest


class HighAesIpV20(VisualRequest):
    """通用2.0(S)-角色特征保持: keep a subject's look and face from one reference image.

    Ranges for ``scale``, ``ddim_steps``, ``width``/``height`` come from third-party code
    (the official page shows only example values): they are guesses.
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
