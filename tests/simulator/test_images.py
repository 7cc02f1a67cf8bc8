"""The hand-written PNGs are valid (strict zlib, checksums) and the JPEG option works."""

from __future__ import annotations

import io
import struct
import zlib

import httpx
import pytest
from PIL import Image

from prefect_haoee.simulator.images import RenderSpec, render
from tests.simulator.support import decode_b64_image, gateway, t2i_body


def _chunks(png: bytes) -> dict[bytes, bytes]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    out: dict[bytes, bytes] = {}
    pos = 8
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind = png[pos + 4 : pos + 8]
        data = png[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", png[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + data)
        out[kind] = out.get(kind, b"") + data
        pos += 12 + length
    return out


@pytest.mark.parametrize(("width", "height"), [(512, 512), (768, 256), (1, 1), (17, 33)])
def test_png_is_strictly_valid(width: int, height: int) -> None:
    png = render(RenderSpec("some-hash", width, height, "png"))
    chunks = _chunks(png)
    raw = zlib.decompress(chunks[b"IDAT"])  # checks the adler32 trailer
    assert len(raw) == height * (1 + 3 * width)
    image = Image.open(io.BytesIO(png))
    image.load()
    assert image.size == (width, height) and image.mode == "RGB"


def test_images_differ_by_content_key() -> None:
    a = render(RenderSpec("a", 64, 64, "png"))
    assert a == render(RenderSpec("a", 64, 64, "png"))
    assert a != render(RenderSpec("b", 64, 64, "png"))
    colors = Image.open(io.BytesIO(a)).getcolors(maxcolors=100_000)
    assert colors is not None and len(colors) > 4


def test_jpeg_format() -> None:
    with gateway(image_format="jpeg") as gw:
        b64 = gw.process(t2i_body(return_url=False)).json()["data"]["binary_data_base64"][0]
        image = decode_b64_image(b64)
        assert image.format == "JPEG" and image.size == (512, 512)
        url = gw.process(t2i_body()).json()["data"]["image_urls"][0]
        assert url.endswith(".jpg")
        response = httpx.get(url)
        assert response.headers["content-type"] == "image/jpeg"
