"""Fetch and verify a generated image: http(s) only, size-capped, decoded by Pillow.

Downloads use their own httpx client with no ``Authorization`` header: result URLs point
at object storage, which must never see the gateway key. A :class:`~.pace.Pace` bounds a
whole transfer (``HAOEE_DOWNLOAD_DEADLINE``, ``HAOEE_DOWNLOAD_MIN_RATE``), not only the
wait for one chunk; URLs in error texts are redacted (signatures, tokens, passwords).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Literal
from urllib.parse import urlsplit

import anyio
import httpx
from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, ConfigDict, Field

from prefect_haoee.client.errors import DownloadError, TransportError
from prefect_haoee.client.pace import Pace
from prefect_haoee.client.redact import redact_urls

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
MAX_REDIRECTS = 5

_CONTENT_TYPES = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "WEBP": "image/webp",
    "GIF": "image/gif",
}


class DownloadedImage(BaseModel):
    """Verified image bytes with their digest and geometry."""

    model_config = ConfigDict(frozen=True)

    data: bytes = Field(repr=False)
    sha256: str
    format: str
    width: int
    height: int
    source: Literal["url", "base64"]

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def content_type(self) -> str:
        return _CONTENT_TYPES.get(self.format, "application/octet-stream")

    @property
    def extension(self) -> str:
        return {"JPEG": "jpg"}.get(self.format, self.format.lower())


def verify_image(data: bytes, source: Literal["url", "base64"] = "url") -> DownloadedImage:
    """Decode ``data`` fully with Pillow; raise :class:`DownloadError` if it is no image."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                fmt = img.format or "UNKNOWN"
                width, height = img.size
                img.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DownloadError(f"bytes are not a decodable image: {exc}") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DownloadError(f"image refused as a decompression bomb: {exc}") from None
    return DownloadedImage(
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        format=fmt,
        width=width,
        height=height,
        source=source,
    )


def decode_base64_image(value: str) -> DownloadedImage:
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DownloadError(f"inline image is not valid base64: {exc}") from None
    return verify_image(data, "base64")


def check_url(url: str) -> None:
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise DownloadError(f"refusing to download a {scheme or 'scheme-less'} URL: only http(s)")


def check_response(
    response: httpx.Response,
    max_bytes: int,
    what: str = "image",
    *,
    expired: tuple[int, ...] = (403, 404),
) -> None:
    """Refuse a file host's error status (5xx: transport, 4xx: download) or an over-cap
    declared size, before reading the body."""
    status = response.status_code
    if status >= 500:
        raise TransportError(f"file host answered HTTP {status}", http_status=status)
    if status >= 400:
        hint = " (the result URL may have expired)" if status in expired else ""
        prefix = "" if what == "image" else f"{what} "
        raise DownloadError(f"{prefix}download failed with HTTP {status}{hint}", http_status=status)
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise DownloadError(f"{what} is {int(declared)} bytes, over the {max_bytes}-byte cap")


@contextmanager
def mapped_download_errors(what: str) -> Iterator[None]:
    """httpx errors of a file download as the client's errors (works around ``async with``)."""
    try:
        yield
    except httpx.TooManyRedirects:
        raise DownloadError(f"too many redirects while downloading the {what}") from None
    except httpx.UnsupportedProtocol as exc:
        raise DownloadError(f"download redirected to an unsupported URL: {exc}") from None
    except httpx.HTTPError as exc:
        text = redact_urls(f"download failed: {type(exc).__name__}: {exc}")
        raise TransportError(text) from None


class _Cap:
    """Accumulates streamed chunks, failing as soon as they pass the cap."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.buf = bytearray()

    def add(self, chunk: bytes) -> None:
        self.buf += chunk
        if len(self.buf) > self.max_bytes:
            raise DownloadError(f"image is over the {self.max_bytes}-byte cap")


def new_download_client(transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """A client for result files: no auth header, bounded redirects."""
    return httpx.Client(
        timeout=DEFAULT_TIMEOUT,
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        transport=transport,
    )


def new_async_download_client(
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=DEFAULT_TIMEOUT,
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        transport=transport,
    )


def download_image(
    source: str,
    *,
    client: httpx.Client | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    pace: Pace | None = None,
) -> DownloadedImage:
    """Fetch a URL (or decode inline base64 when ``source`` is not a URL) and verify it;
    ``pace`` bounds the whole transfer (deadline, minimum rate)."""
    if "://" not in source:
        return decode_base64_image(source)
    check_url(source)
    cap = _Cap(max_bytes)
    with (
        mapped_download_errors("image"),
        nullcontext(client) if client is not None else new_download_client() as http,
        http.stream("GET", source) as response,
    ):
        check_response(response, max_bytes)
        for chunk in response.iter_bytes():
            cap.add(chunk)
            if pace is not None:
                pace.add(len(chunk))
    return verify_image(bytes(cap.buf), "url")


@contextmanager
def within(pace: Pace | None) -> Iterator[None]:
    """An async transfer under ``pace``'s deadline as a whole (cancelled when it passes)."""
    if pace is None:
        yield
        return
    try:
        with anyio.fail_after(max(0.0, pace.deadline - (time.monotonic() - pace.started))):
            yield
    except TimeoutError:
        raise pace.too_long() from None


async def adownload_image(
    source: str,
    *,
    client: httpx.AsyncClient | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    pace: Pace | None = None,
) -> DownloadedImage:
    """Async twin of :func:`download_image`."""
    if "://" not in source:
        return decode_base64_image(source)
    check_url(source)
    cap = _Cap(max_bytes)
    with within(pace), mapped_download_errors("image"):
        async with (
            nullcontext(client) if client is not None else new_async_download_client() as http,
            http.stream("GET", source) as response,
        ):
            check_response(response, max_bytes)
            async for chunk in response.aiter_bytes():
                cap.add(chunk)
                if pace is not None:
                    pace.add(len(chunk))
    return verify_image(bytes(cap.buf), "url")
