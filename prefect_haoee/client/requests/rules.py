"""Cross-field rule helpers shared by the request models.

A ``model_validator`` that raises ``ValueError`` reports its error at the model's root
(``loc == ()``). These helpers raise a ``ValidationError`` located at the offending
field instead, so ``exc.errors()[0]["loc"]`` names it (pydantic prefixes outer locations,
e.g. the ``req_key`` tag of the discriminated union).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

# ``face_image`` / ``style_image`` of the portrait models point into the input images.
IMAGE_REF_PATTERN = r"^uri://binary_data\?index=(\d+)$"
_IMAGE_REF = re.compile(IMAGE_REF_PATTERN)


Loc: TypeAlias = str | tuple[str | int, ...]


def field_error(model: str, field: Loc, message: str, value: Any = None) -> ValidationError:
    """A ``ValidationError`` for ``model`` located at ``field`` (raise it from a validator).

    ``field`` is a field name or a location tuple such as ``("controlnet_args", 0, "x")``.
    """
    details = InitErrorDetails(
        type=PydanticCustomError("value_error", "{reason}", {"reason": message}),
        loc=field if isinstance(field, tuple) else (field,),
        input=value,
    )
    return ValidationError.from_exception_data(model, [details])


def image_count(binary_data_base64: list[str] | None, image_urls: list[str] | None) -> int:
    """Number of input images the gateway will see (base64 wins when both are given)."""
    if binary_data_base64:
        return len(binary_data_base64)
    return len(image_urls or [])


def require_both_or_neither(model: str, width: int | None, height: int | None) -> None:
    """``width`` and ``height`` only take effect together: reject one without the other."""
    if (width is None) != (height is None):
        missing = "height" if height is None else "width"
        raise field_error(
            model,
            missing,
            "width and height must be given together (or neither)",
            None,
        )


def require_index_below(model: str, field: Loc, index: int, count: int) -> None:
    """An image index (``binary_data_index``, ``uri://binary_data?index=N``) must exist."""
    if index >= count:
        raise field_error(
            model,
            field,
            f"refers to input image {index} but only {count} image(s) are given",
            index,
        )


def parse_image_ref(value: str) -> int | None:
    """The ``N`` of ``uri://binary_data?index=N``, or ``None`` when ``value`` is malformed."""
    match = _IMAGE_REF.match(value)
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class InputLimits:
    """What a model accepts as one input image (checked before any paid call).

    ``max_bytes`` caps one image's file; ``max_total_bytes`` all of a request's images
    together; ``min_side``/``max_side`` bound width and height in pixels.
    """

    formats: frozenset[str] = frozenset({"JPEG", "PNG"})
    max_bytes: int = 4_700_000
    max_total_bytes: int | None = None
    min_side: int = 1
    max_side: int = 4096


GUESSED_INPUT_LIMITS = InputLimits(formats=frozenset({"JPEG", "PNG", "BMP", "WEBP"}))
"""GUESS, for models whose page states no input limit: the strictest documented limits of
the sibling models (4.7 MB each, like inpainting and 人像保持; at most 4096 px a side)."""


@dataclass(frozen=True)
class WireImage:
    """One reference image as a request can carry it: raw base64 and/or a URL.

    Files and S3 objects have ``base64`` (and ``url`` too when a presigned link was made);
    https references have only ``url``. ``sha256`` (``sha256:<hex>``) is the content's
    identity when known. Each request class decides which form it sends
    (``reference_fields``).
    """

    base64: str | None = field(default=None, repr=False)
    url: str | None = None
    sha256: str | None = None
    media_type: str | None = None

    @property
    def data_url(self) -> str:
        """``data:<type>;base64,<data>`` (for APIs that want the prefix)."""
        return f"data:{self.media_type or 'image/png'};base64,{self.base64}"
