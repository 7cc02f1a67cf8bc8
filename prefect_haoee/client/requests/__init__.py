"""Request models: one class per ``req_key``, a discriminated union on ``req_key``."""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import Field, TypeAdapter

from prefect_haoee.client.requests.base import AigcMeta, LogoInfo, VisualRequest
from prefect_haoee.client.requests.general import HighAesIpV20

AnyVisualRequest = Annotated[
    Union[  # noqa: UP007 - a discriminated union reads best spelled out
        HighAesIpV20,
    ],
    Field(discriminator="req_key"),
]

_ADAPTER: TypeAdapter[AnyVisualRequest] = TypeAdapter(AnyVisualRequest)

REQUEST_CLASSES: dict[str, type[VisualRequest]] = {
    cls.model_fields["req_key"].default: cls
    for cls in (HighAesIpV20,)
}


def parse_request(data: dict[str, Any]) -> VisualRequest:
    """Validate a request body (a dict with ``req_key``) into its model."""
    return _ADAPTER.validate_python(data)


__all__ = [
    "REQUEST_CLASSES",
    "AigcMeta",
    "AnyVisualRequest",
    "HighAesIpV20",
    "LogoInfo",
    "VisualRequest",
    "parse_request",
]
