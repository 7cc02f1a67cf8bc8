"""Input images of a request: they must arrive, and they leave a visible trace.

Base64 images must decode (as images: Pillow opens them); an image URL is fetched only
when its host is loopback (the simulator never reaches out to the internet), and then
must answer an image. The first input image's mean colour tints the output
(:func:`prefect_haoee.simulator.images.render`), so a test can see which reference was used.

For the ledger's duplicate count, an input image counts by content as the client hashes
it: base64 as the sha256 of its bytes, a fetched presigned S3 link (which changes on every
run) as the sha256 of what it answered.
"""

from __future__ import annotations

import base64
import hashlib
import io
from dataclasses import dataclass, field
from ipaddress import ip_address
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from PIL import Image, UnidentifiedImageError

from prefect_haoee.simulator.codes import SimError

MAX_FETCH_BYTES = 15 * 1024 * 1024
FETCH_TIMEOUT_S = 5.0
PRESIGNED_MARKS = ("X-Amz-Signature", "Signature")

Colour = tuple[int, int, int]


@dataclass
class InputImages:
    """What arrived: bytes per input image (None for a URL not fetched), link digests."""

    images: list[bytes | None] = field(default_factory=list)
    link_digests: dict[str, str] = field(default_factory=dict)

    @property
    def tint(self) -> Colour | None:
        first = next((data for data in self.images if data is not None), None)
        return mean_colour(first) if first is not None else None


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def mean_colour(data: bytes) -> Colour:
    with Image.open(io.BytesIO(data)) as img:
        pixel = img.convert("RGB").resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
    assert isinstance(pixel, tuple)
    return int(pixel[0]), int(pixel[1]), int(pixel[2])


def _check_image(data: bytes, where: str) -> None:
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise SimError(50207, f"{where} is not an image that decodes") from None


async def _fetch(url: str, where: str) -> bytes:
    try:
        async with (
            httpx.AsyncClient(timeout=FETCH_TIMEOUT_S, follow_redirects=False) as http,
            http.stream("GET", url) as answer,
        ):
            if answer.status_code != 200:
                raise SimError(50200, f"{where} answered HTTP {answer.status_code}")
            chunks: list[bytes] = []
            size = 0
            async for chunk in answer.aiter_bytes():
                size += len(chunk)
                if size > MAX_FETCH_BYTES:
                    raise SimError(50205, f"{where} is above {MAX_FETCH_BYTES} bytes")
                chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise SimError(50200, f"{where} cannot be fetched ({type(exc).__name__})") from None
    return b"".join(chunks)


async def read_inputs(body: dict[str, Any]) -> InputImages:
    """Decode the base64 images and fetch loopback URLs (checked by ``check_generation``
    to be lists of strings); SimError when one does not arrive as an image."""
    out = InputImages()
    b64 = body.get("binary_data_base64") or []
    if b64:
        for i, value in enumerate(b64):
            data = base64.b64decode(value)
            _check_image(data, f"binary_data_base64[{i}]")
            out.images.append(data)
        return out  # the gateway ignores image_urls when base64 is given
    for i, url in enumerate(body.get("image_urls") or []):
        if not is_loopback(url):
            out.images.append(None)
            continue
        where = f"image_urls[{i}]"
        data = await _fetch(url, where)
        _check_image(data, where)
        out.images.append(data)
        query = parse_qs(urlsplit(url).query)
        if any(mark in query for mark in PRESIGNED_MARKS):
            out.link_digests[url] = "sha256:" + hashlib.sha256(data).hexdigest()
    return out


async def first_image_tint(value: Any, where: str = "image") -> Colour | None:
    """The mean colour of the first image of a family field (``image`` of the OpenAI-style
    images, edits included): a URL (fetched from loopback only), a data URL or raw base64."""
    first = value[0] if isinstance(value, list) and value else value
    if not isinstance(first, str) or not first:
        return None
    if first.startswith(("http://", "https://")):
        if not is_loopback(first):
            return None
        data = await _fetch(first, where)
    else:
        payload = first.partition(",")[2] if first.startswith("data:") else first
        try:
            data = base64.b64decode(payload, validate=True)
        except ValueError:
            raise SimError(50207, f"{where} is neither a URL nor valid base64") from None
    _check_image(data, where)
    return mean_colour(data)
