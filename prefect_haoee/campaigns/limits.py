"""Limits on what a campaign file may make the loader read and build, from ``HAOEE_CAMPAIGN_*``.

A campaign file is untrusted input: these caps are checked *before* anything is read whole
or built, so a hostile file is refused in well under a second and a few MB of memory.

============================== ============== ==============================================
setting                        default        what
============================== ============== ==============================================
``HAOEE_CAMPAIGN_FILE_ROOTS``  (none)         more directories referenced files may be in,
                                              separated by ``os.pathsep`` (``:``); the
                                              campaign file's own directory always is one
``HAOEE_CAMPAIGN_MAX_FILE_BYTES`` 16 MiB      size cap of the campaign file and each CSV
``HAOEE_CAMPAIGN_MAX_ITEMS``   100,000        work items (prompts x variants) per campaign
============================== ============== ==============================================

Inline ``binary_data_base64`` images are capped by the gateway's documented limit
(:data:`MAX_INLINE_IMAGE_BYTES`), by length, before anything is decoded.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_MAX_FILE_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_ITEMS = 100_000

MAX_INLINE_IMAGE_BYTES = 4_700_000
"""Volcengine visual API: an input image is at most 4.7 MB (``img2img`` portrait keep:
"base64 <= 4.7 MB each"; 通用1.1 i2i: "< 5 MB")."""
MAX_INLINE_IMAGE_CHARS = -(-MAX_INLINE_IMAGE_BYTES // 3) * 4
"""The base64 length of a :data:`MAX_INLINE_IMAGE_BYTES` image (checked before decoding)."""


class CampaignLimits(BaseSettings):
    """Caps of the campaign loader; ``CampaignLimits()`` reads ``HAOEE_CAMPAIGN_*``."""

    model_config = SettingsConfigDict(env_prefix="HAOEE_CAMPAIGN_", extra="ignore")

    file_roots: Annotated[tuple[Path, ...], NoDecode] = Field(
        default=(),
        description="Directories (besides the campaign file's) that referenced files may be in",
    )
    max_file_bytes: int = Field(default=DEFAULT_MAX_FILE_BYTES, ge=1)
    max_items: int = Field(default=DEFAULT_MAX_ITEMS, ge=1)

    @field_validator("file_roots", mode="before")
    @classmethod
    def _split_roots(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(Path(part) for part in value.split(os.pathsep) if part.strip())
        return value

    def roots_for(self, campaign_dir: Path, extra: tuple[Path, ...] = ()) -> tuple[Path, ...]:
        """The directories a campaign in ``campaign_dir`` may read from (its own first)."""
        return (campaign_dir, *extra, *self.file_roots)
