"""What the client knows of each ``req_key``: modes, image inputs, output size rule.

The rows are data, in ``catalog.json`` beside this module.

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

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from math import isqrt
from pathlib import Path
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


def _load_specs() -> tuple[ModelSpec, ...]:
    """The rows of ``catalog.json`` (data beside this module: one object per req_key)."""
    rows = json.loads(Path(__file__).with_name("catalog.json").read_text(encoding="utf-8"))
    return tuple(
        ModelSpec(
            **{
                **row,
                "modes": tuple(row["modes"]),
                "default_size": (row["default_size"][0], row["default_size"][1]),
            }
        )
        for row in rows
    )


SPECS: tuple[ModelSpec, ...] = _load_specs()
"""Every req_key, in the order of ``catalog.json`` (general, jimeng, edit, legacy, portrait)."""

CATALOG: dict[str, ModelSpec] = {spec.req_key: spec for spec in SPECS}


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
