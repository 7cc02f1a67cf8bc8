"""What the client knows of each ``req_key``: modes, image inputs, output size rule.

Shared with the simulator (which keeps its own request checks). ``limits_guessed`` marks
models whose ranges come from third-party code or inference rather than an official page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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


CATALOG: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    CATALOG[spec.req_key] = spec
    return spec


def get_spec(req_key: str) -> ModelSpec:
    try:
        return CATALOG[req_key]
    except KeyError:
        known = ", ".join(sorted(CATALOG))
        raise KeyError(f"unknown req_key {req_key!r}; known: {known}") from None
