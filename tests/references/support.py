"""Helpers of the reference-image tests: image files, campaign files, a loopback HTTP server."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any

import yaml
from PIL import Image

from tests.http_support import LoopbackServer, serving
from tests.support import png_bytes

RED, GREEN, BLUE = (220, 20, 20), (20, 200, 20), (20, 20, 220)


def png(colour: tuple[int, int, int] = RED, size: tuple[int, int] = (64, 64)) -> bytes:
    return png_bytes(*size, colour)


def noisy_png(side: int) -> bytes:
    """A PNG that does not compress (random pixels): about ``3 * side**2`` bytes."""
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(3 * side * side)).save(out, format="PNG")
    return out.getvalue()


def mean_colour(data: bytes) -> tuple[int, int, int]:
    with Image.open(io.BytesIO(data)) as img:
        pixel = img.convert("RGB").resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
    assert isinstance(pixel, tuple)
    return int(pixel[0]), int(pixel[1]), int(pixel[2])


def dominant(colour: tuple[int, int, int]) -> str:
    return "rgb"[max(range(3), key=lambda i: colour[i])]


def campaign_file(
    folder: Path,
    prompts: list[dict[str, Any]],
    bucket: str = "refs-bucket",
    name: str = "refs-test",
    **extra: Any,
) -> Path:
    data: dict[str, Any] = {
        "name": name,
        "model": "high_aes_ip_v20",
        "prompts": prompts,
        "output": {"bucket": bucket},
        "concurrency": 4,
        "qps": 50,
        **extra,
    }
    path = folder / "campaign.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@contextmanager
def http_server(folder: Path) -> Iterator[str]:
    """Serve ``folder`` on 127.0.0.1 (a free port); yields the base URL."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    with serving(LoopbackServer(partial(Quiet, directory=str(folder)))) as server:
        yield server.url
