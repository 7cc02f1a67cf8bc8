"""Nested argument objects of the ControlNet-style models (通用2.0 controlnet, 通用XL pro)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from prefect_haoee.client.requests.rules import require_index_below


class ControlNetArg(BaseModel):
    """One control signal taken from an input image (``binary_data_index`` picks it).

    The types come from the official 通用XL pro example. ``strength`` has no documented
    default (examples use 0.4 and 0.6), so it must be given; its 0-1 range is a guess.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["canny", "pose", "depth"]
    strength: float = Field(ge=0, le=1)
    binary_data_index: int = Field(default=0, ge=0)


class StyleReferenceArgs(BaseModel):
    """Face-id / style reference of 通用XL pro 图生图 (official example only).

    Example values (``id_weight`` 0.2, ``style_weight`` 0.0, index 0) are the defaults;
    the 0-1 weight ranges are guesses.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id_weight: float = Field(default=0.2, ge=0, le=1)
    style_weight: float = Field(default=0.0, ge=0, le=1)
    binary_data_index: int = Field(default=0, ge=0)


def check_controlnet_indexes(
    model: str,
    controlnet_args: list[ControlNetArg] | None,
    image_count: int,
) -> None:
    """Every ``controlnet_args[i].binary_data_index`` must name a given image."""
    for i, arg in enumerate(controlnet_args or []):
        loc = ("controlnet_args", i, "binary_data_index")
        require_index_below(model, loc, arg.binary_data_index, image_count)
