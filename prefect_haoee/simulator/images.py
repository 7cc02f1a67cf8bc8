"""Result images: real PNG/JPEG bytes, deterministic from the request, cheap to make.

An image is a mosaic of 16 px blocks of a bilinear gradient between 16 colours taken
from sha512(request hash, seed): the same request always gives the same bytes, another
prompt or seed gives another picture. PNGs are written directly (cheap: the cost follows
the number of 16 px bands, not of pixels); JPEGs go through Pillow. Rendered bytes are
kept in a size-bounded LRU and rendered off the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import math
import struct
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from PIL import Image

from prefect_haoee.client.catalog import ModelSpec

BLOCK_PX = 16
MAX_SIDE = 8192
INLINE_RENDER_PIXELS = 1024 * 1024
MEDIA_TYPES = {"png": "image/png", "jpeg": "image/jpeg"}
EXTENSIONS = {"png": "png", "jpeg": "jpg"}
TINT_WEIGHT = 0.75
"""How much of an output is the reference's mean colour (the rest: the mosaic)."""


@dataclass(frozen=True)
class RenderSpec:
    """What decides an image's bytes."""

    content_key: str
    """The request hash (plus the drawn seed when the request asked for ``seed: -1``)."""
    width: int
    height: int
    fmt: str
    tint: tuple[int, int, int] | None = None
    """The mean colour of the request's first input image: blended into the output."""

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.fmt]

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.fmt]


def _int_field(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def output_size(body: dict[str, Any], spec: ModelSpec) -> tuple[int, int]:
    """Width and height of the output image of a request.

    ``width``/``height`` when both are set, else a square of area ``size`` (即梦4.0),
    else the model's default size; doubled by ``use_sr: true``.
    """
    width, height = _int_field(body, "width"), _int_field(body, "height")
    size = _int_field(body, "size")
    if width is not None and height is not None:
        w, h = width, height
    elif size is not None and size > 0:
        w = h = math.isqrt(size)
    else:
        w, h = spec.default_size
    if body.get("use_sr") is True:
        w, h = w * 2, h * 2
    return max(1, min(w, MAX_SIDE)), max(1, min(h, MAX_SIDE))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _deflate_segment(data: bytes) -> bytes:
    """Raw deflate of ``data`` ending on a full flush: self-contained, can be concatenated."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(zlib.Z_FULL_FLUSH)


@lru_cache(maxsize=512)
def _repeat_rows(stride: int, count: int) -> bytes:
    """``count`` scanlines with PNG filter 2 ("Up") and all-zero deltas: copies of the row above."""
    return _deflate_segment((b"\x02" + bytes(stride)) * count)


_FINAL_BLOCK = zlib.compressobj(1, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)
_ADLER_MOD = 65521


def _png_of_bands(rows: bytes, width: int, height: int, bands: int) -> bytes:
    """A PNG of ``height`` rows where band ``i`` (of ``bands``) repeats ``rows``' i-th line.

    Written by hand because the image is made of identical scanlines: each band's first
    line is deflated, the rest is a cached "same as above" run, so the cost follows the
    number of bands, not of pixels (about 10x cheaper than a Pillow encode).
    """
    stride = width * 3
    parts = [b"\x78\x01"]  # zlib header, fastest-compression flag
    adler = 1
    y = 0
    for band in range(bands):
        y_end = ((band + 1) * height + bands - 1) // bands
        line = b"\x00" + rows[band * stride : (band + 1) * stride]
        parts.append(_deflate_segment(line))
        adler = zlib.adler32(line, adler)
        repeats = y_end - y - 1
        if repeats > 0:
            parts.append(_repeat_rows(stride, repeats))
            a, b = adler & 0xFFFF, adler >> 16
            for _ in range(repeats):  # adler32 of b"\x02" + stride zero bytes, in O(1)
                a = (a + 2) % _ADLER_MOD
                b = (b + (stride + 1) * a) % _ADLER_MOD
            adler = (b << 16) | a
        y = y_end
    parts += [_FINAL_BLOCK, struct.pack(">I", adler)]
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", b"".join(parts))
        + _chunk(b"IEND", b"")
    )


def render(spec: RenderSpec) -> bytes:
    digest = hashlib.sha512(spec.content_key.encode("utf-8")).digest()
    small = Image.frombytes("RGB", (4, 4), digest[:48])
    grid = (max(1, spec.width // BLOCK_PX), max(1, spec.height // BLOCK_PX))
    bands = small.resize(grid, Image.Resampling.BILINEAR).resize(
        (spec.width, grid[1]), Image.Resampling.NEAREST
    )
    if spec.tint is not None:
        bands = Image.blend(bands, Image.new("RGB", bands.size, spec.tint), TINT_WEIGHT)
    if spec.fmt == "png":
        return _png_of_bands(bands.tobytes(), spec.width, spec.height, grid[1])
    img = bands.resize((spec.width, spec.height), Image.Resampling.NEAREST)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return out.getvalue()


class ImageCache:
    """LRU of rendered bytes keyed by :class:`RenderSpec`, bounded in bytes."""

    def __init__(self, max_bytes: int) -> None:
        self._max = max_bytes
        self._items: OrderedDict[RenderSpec, bytes] = OrderedDict()
        self._size = 0
        self._pending: dict[RenderSpec, asyncio.Future[bytes]] = {}
        self.renders = 0
        self.hits = 0

    async def get(self, spec: RenderSpec) -> bytes:
        cached = self._items.get(spec)
        if cached is not None:
            self._items.move_to_end(spec)
            self.hits += 1
            return cached
        pending = self._pending.get(spec)
        if pending is not None:
            self.hits += 1
            return await asyncio.shield(pending)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._pending[spec] = future
        try:
            if spec.width * spec.height <= INLINE_RENDER_PIXELS:
                data = render(spec)  # about 1 ms: cheaper than a thread hop
            else:
                data = await asyncio.to_thread(render, spec)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters (if any) re-raise it
            raise
        finally:
            self._pending.pop(spec, None)
        future.set_result(data)
        self.renders += 1
        self._store(spec, data)
        return data

    def _store(self, spec: RenderSpec, data: bytes) -> None:
        if len(data) > self._max:
            return
        self._items[spec] = data
        self._size += len(data)
        while self._size > self._max and self._items:
            _, old = self._items.popitem(last=False)
            self._size -= len(old)
