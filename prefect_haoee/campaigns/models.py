"""Which family a campaign's ``model`` names, what kind of media it makes, how it runs.

A Volcengine ``req_key`` (the catalog) makes images through ``/volcv/v1``. Other model
names go to the gateway's other families, recognised by name (GUESS: the gateway's exact
model ids are not documented; these prefixes follow its navigation and sibling gateways):

| model names | family | kind | modes |
|---|---|---|---|
| ``sora-2``, ``sora-2-pro`` … | sora | video | async |
| ``MiniMax-Hailuo-…`` / ``hailuo…`` | minimax | video | async |
| ``kling-v2-6`` / ``kling…`` | kling | video | async |
| ``chirp-…`` / ``suno…`` | suno | music | async |
| image model prefixes (below) | openai_images | image | sync, async |

Image model prefixes: ``doubao-seedream-…``, ``doubao-seededit-…``, ``nano-banana…``,
``gpt-4o-image…``, ``gpt-image…``, ``sora_image``, ``qwen-image…``, ``flux…``, ``dall-e…``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from prefect_haoee.client.catalog import CATALOG, Mode

Kind = Literal["image", "video", "music"]
Family = Literal["visual", "openai_images", "sora", "minimax", "kling", "suno"]

_PATTERNS: tuple[tuple[re.Pattern[str], Family, Kind, tuple[Mode, ...]], ...] = (
    (re.compile(r"^sora_image$", re.I), "openai_images", "image", ("sync", "async")),
    (re.compile(r"^sora[\w.-]*$", re.I), "sora", "video", ("async",)),
    (re.compile(r"^(minimax|hailuo)[\w.-]*$", re.I), "minimax", "video", ("async",)),
    (re.compile(r"^kling[\w.-]*$", re.I), "kling", "video", ("async",)),
    (re.compile(r"^(chirp|suno)[\w.-]*$", re.I), "suno", "music", ("async",)),
    (
        re.compile(
            r"^(doubao-seedream|doubao-seededit|nano-banana|gpt-4o-image|gpt-image|"
            r"qwen-image|flux|dall-e)[\w.-]*$",
            re.I,
        ),
        "openai_images",
        "image",
        ("sync", "async"),
    ),
)

EXAMPLES = ("sora-2", "MiniMax-Hailuo-2.3-Fast", "kling-v2-6", "chirp-v4", "nano-banana")


@dataclass(frozen=True)
class ModelInfo:
    name: str
    family: Family
    kind: Kind
    modes: tuple[Mode, ...]

    @property
    def preferred_mode(self) -> Mode:
        return self.modes[0]

    def supports(self, mode: Mode) -> bool:
        return mode in self.modes


def resolve_model(name: str) -> ModelInfo | None:
    """The family of ``name``, or None when no family knows it."""
    spec = CATALOG.get(name)
    if spec is not None:
        return ModelInfo(name, "visual", "image", spec.modes)
    for pattern, family, kind, modes in _PATTERNS:
        if pattern.match(name):
            return ModelInfo(name, family, kind, modes)
    return None
