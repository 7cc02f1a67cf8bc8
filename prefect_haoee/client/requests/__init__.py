"""Request models: one class per ``req_key``, a discriminated union on ``req_key``.

Modules by family: ``general`` (通用 text-to-image, character keeping), ``jimeng``
(即梦), ``edit`` (SeedEdit, inpainting edit, controlnet), ``legacy`` (XL pro, 通用1.1,
动漫1.3), ``portrait`` (人像保持); nested argument objects in ``controlnet``.
"""

from __future__ import annotations

from typing import Annotated, Any, Union, get_args

from pydantic import Field, TypeAdapter

from prefect_haoee.client.requests.base import AigcMeta, LogoInfo, VisualRequest
from prefect_haoee.client.requests.controlnet import ControlNetArg, StyleReferenceArgs
from prefect_haoee.client.requests.edit import (
    ByteeditV20,
    HighAesSchedulerSvrControlnetV20,
    I2IInpaintingEdit,
    SeededitV30,
)
from prefect_haoee.client.requests.general import (
    HighAesGeneralV14,
    HighAesGeneralV20,
    HighAesGeneralV20L,
    HighAesGeneralV21L,
    HighAesGeneralV30LZT2I,
    HighAesIpV20,
)
from prefect_haoee.client.requests.jimeng import (
    JimengHighAesGeneralV21L,
    JimengI2IV30,
    JimengImage2ImageDreamInpaint,
    JimengSeedream46Cvtob,
    JimengT2IV30,
    JimengT2IV31,
    JimengT2IV40,
)
from prefect_haoee.client.requests.legacy import HighAes, HighAesI2I, I2IXLSft, T2IXLSft
from prefect_haoee.client.requests.portrait import (
    Img2ImgAnimeAcceleratedMaintainID,
    Img2ImgStableAcceleratedMaintainIDUsage,
)

AnyVisualRequest = Annotated[
    Union[  # noqa: UP007 - a discriminated union reads best spelled out
        # general
        HighAesIpV20,
        HighAesGeneralV20L,
        HighAesGeneralV20,
        HighAesGeneralV21L,
        HighAesGeneralV14,
        HighAesGeneralV30LZT2I,
        # jimeng
        JimengHighAesGeneralV21L,
        JimengT2IV30,
        JimengT2IV31,
        JimengI2IV30,
        JimengT2IV40,
        JimengSeedream46Cvtob,
        JimengImage2ImageDreamInpaint,
        # edit
        ByteeditV20,
        SeededitV30,
        I2IInpaintingEdit,
        HighAesSchedulerSvrControlnetV20,
        # legacy
        I2IXLSft,
        T2IXLSft,
        HighAesI2I,
        HighAes,
        # portrait
        Img2ImgAnimeAcceleratedMaintainID,
        Img2ImgStableAcceleratedMaintainIDUsage,
    ],
    Field(discriminator="req_key"),
]

_ADAPTER: TypeAdapter[AnyVisualRequest] = TypeAdapter(AnyVisualRequest)

# The union's members, so a new model is added in one place only.
_CLASSES: tuple[type[VisualRequest], ...] = get_args(get_args(AnyVisualRequest)[0])

REQUEST_CLASSES: dict[str, type[VisualRequest]] = {
    cls.model_fields["req_key"].default: cls for cls in _CLASSES
}


def parse_request(data: dict[str, Any]) -> VisualRequest:
    """Validate a request body (a dict with ``req_key``) into its model."""
    return _ADAPTER.validate_python(data)


__all__ = [
    "REQUEST_CLASSES",
    "AigcMeta",
    "AnyVisualRequest",
    "ByteeditV20",
    "ControlNetArg",
    "HighAes",
    "HighAesGeneralV14",
    "HighAesGeneralV20",
    "HighAesGeneralV20L",
    "HighAesGeneralV21L",
    "HighAesGeneralV30LZT2I",
    "HighAesI2I",
    "HighAesIpV20",
    "HighAesSchedulerSvrControlnetV20",
    "I2IInpaintingEdit",
    "I2IXLSft",
    "Img2ImgAnimeAcceleratedMaintainID",
    "Img2ImgStableAcceleratedMaintainIDUsage",
    "JimengHighAesGeneralV21L",
    "JimengI2IV30",
    "JimengImage2ImageDreamInpaint",
    "JimengSeedream46Cvtob",
    "JimengT2IV30",
    "JimengT2IV31",
    "JimengT2IV40",
    "LogoInfo",
    "SeededitV30",
    "StyleReferenceArgs",
    "T2IXLSft",
    "VisualRequest",
    "parse_request",
]
