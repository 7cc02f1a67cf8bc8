"""Constants and builders shared by every test folder (import as ``sharedkit``)."""

from __future__ import annotations

import io

from PIL import Image

SIM_KEY = "sim-test-key-0123456789"


def png_bytes(
    width: int = 8, height: int = 8, color: tuple[int, int, int] = (200, 30, 30)
) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, format="PNG")
    return buf.getvalue()
