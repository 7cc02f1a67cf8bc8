"""Streamed, verified downloads of generated video and audio (never held in memory).

``download_media(url, sink, kind)`` fetches a result file chunk by chunk into ``sink`` (a
file-like object with ``write`` or a callable taking bytes, e.g. an S3 multipart
uploader), and checks on the way:

* http(s) only; the file host's status (5xx -> :class:`TransportError`, 4xx ->
  :class:`DownloadError`);
* a size cap per kind (video 500 MB, audio 100 MB by default): a declared
  ``Content-Length`` over it is refused before reading, a stream that passes it stops
  there (the sink then holds a partial file: discard it on error);
* the ``Content-Type`` (no HTML, JSON, images...) and the magic bytes: MP4/MOV (an
  ``ftyp`` box) or WebM (EBML header) for video; MP3 (ID3 or an MPEG audio frame), WAV
  (``RIFF....WAVE``) or M4A (``ftyp``) for audio. Nothing reaches the sink before the
  magic bytes are checked.

The duration is read while streaming: MP4/M4A from the ``mvhd`` box (wherever ``moov``
is), WAV from its header, MP3 from a Xing/Info header or else as CBR (bytes x 8 /
bitrate: an estimate); WebM: None.

Downloads use the client's file client (no ``Authorization`` header); a caller passes
``headers`` only for a file on the gateway itself (sora's ``/v1/videos/{id}/content``).
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from contextlib import nullcontext
from typing import Protocol, runtime_checkable

import httpx
from pydantic import BaseModel, ConfigDict

from prefect_haoee.client.download import (
    check_response,
    check_url,
    mapped_download_errors,
    new_async_download_client,
    new_download_client,
    within,
)
from prefect_haoee.client.errors import DownloadError
from prefect_haoee.client.media_probe import (
    MB,
    SNIFF_BYTES,
    MediaType,
    Probe,
    describe,
    media_duration,
    mp3_duration,
    mvhd_duration,
    probe_for,
    sniff_media,
    wav_duration,
)
from prefect_haoee.client.pace import Pace

__all__ = [
    "DEFAULT_MAX_MEDIA_BYTES",
    "DownloadedMedia",
    "MediaReceiver",
    "MediaSink",
    "MediaType",
    "adownload_media",
    "check_content_type",
    "download_media",
    "media_duration",
    "mp3_duration",
    "mvhd_duration",
    "sniff_media",
    "wav_duration",
]

DEFAULT_MAX_MEDIA_BYTES: dict[MediaType, int] = {"video": 500 * MB, "audio": 100 * MB}
ACCEPTED_FORMATS: dict[MediaType, frozenset[str]] = {
    "video": frozenset({"mp4", "mov", "webm"}),
    "audio": frozenset({"mp3", "wav", "m4a"}),
}
CONTENT_TYPES = {
    "mp4": "video/mp4",
    "mov": "video/quicktime",
    "webm": "video/webm",
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "m4a": "audio/mp4",
}
NEUTRAL_TYPES = frozenset(
    {"application/octet-stream", "binary/octet-stream", "application/binary", "application/mp4"}
)


@runtime_checkable
class SupportsWrite(Protocol):
    def write(self, data: bytes, /) -> object: ...


MediaSink = SupportsWrite | Callable[[bytes], object]
"""Where streamed bytes go: ``sink.write(chunk)`` or ``sink(chunk)`` (async: may return an
awaitable, which is awaited)."""


class DownloadedMedia(BaseModel):
    """What was streamed into the sink: format, size, digest and duration."""

    model_config = ConfigDict(frozen=True)

    kind: MediaType
    format: str
    content_type: str
    size: int
    sha256: str
    duration_s: float | None = None

    @property
    def extension(self) -> str:
        return self.format


# -- the streaming core ---------------------------------------------------------------------


def check_content_type(value: str | None, kind: MediaType) -> None:
    """Refuse a ``Content-Type`` that cannot be ``kind`` (absent/octet-stream is fine)."""
    if not value:
        return
    main = value.split(";", 1)[0].strip().lower()
    if not main or main in NEUTRAL_TYPES:
        return
    top = main.partition("/")[0]
    if top == ("video" if kind == "video" else "audio"):
        return
    if kind == "audio" and main in ("video/mp4", "application/ogg"):
        return  # m4a is sometimes served as video/mp4
    raise DownloadError(f"the file host sent Content-Type {main!r}, which is not {kind}")


class MediaReceiver:
    """Checks streamed bytes and says what may be written (sans-IO; used by both twins)."""

    def __init__(self, kind: MediaType, max_bytes: int) -> None:
        self.kind = kind
        self.max_bytes = max_bytes
        self.size = 0
        self.format: str | None = None
        self._head = bytearray()
        self._sha = hashlib.sha256()
        self._probe: Probe = Probe()

    def add(self, chunk: bytes) -> list[bytes]:
        """Bytes to write now (none until the magic bytes are known and accepted)."""
        if not chunk:
            return []
        if self.size + len(chunk) > self.max_bytes:
            raise DownloadError(f"{self.kind} is over the {self.max_bytes}-byte cap")
        self.size += len(chunk)
        self._sha.update(chunk)
        if self.format is not None:
            self._probe.feed(chunk)
            return [chunk]
        self._head += chunk
        if len(self._head) < SNIFF_BYTES:
            return []
        return self._release()

    def _release(self) -> list[bytes]:
        head = bytes(self._head)
        fmt = sniff_media(head[:SNIFF_BYTES], self.kind)
        if fmt not in ACCEPTED_FORMATS[self.kind]:
            shown = fmt if fmt is not None else describe(head)
            accepted = ", ".join(sorted(ACCEPTED_FORMATS[self.kind]))
            raise DownloadError(f"the file is {shown}, not {self.kind} ({accepted})")
        self.format = fmt
        self._probe = probe_for(fmt)
        self._probe.feed(head)
        self._head = bytearray()
        return [head]

    def finish(self) -> tuple[list[bytes], DownloadedMedia]:
        out: list[bytes] = []
        if self.format is None:
            if not self.size:
                raise DownloadError(f"the {self.kind} file is empty")
            out = self._release()
        assert self.format is not None
        return out, DownloadedMedia(
            kind=self.kind,
            format=self.format,
            content_type=CONTENT_TYPES.get(self.format, "application/octet-stream"),
            size=self.size,
            sha256=self._sha.hexdigest(),
            duration_s=self._probe.duration(self.size),
        )


def _limit(kind: MediaType, max_bytes: int | None) -> int:
    if kind not in DEFAULT_MAX_MEDIA_BYTES:
        raise ValueError(f"kind must be 'video' or 'audio', not {kind!r}")
    return max_bytes if max_bytes is not None else DEFAULT_MAX_MEDIA_BYTES[kind]


def _write(sink: MediaSink, data: bytes) -> object:
    if isinstance(sink, SupportsWrite):
        return sink.write(data)
    return sink(data)


def download_media(
    url: str,
    sink: MediaSink,
    kind: MediaType,
    max_bytes: int | None = None,
    *,
    client: httpx.Client | None = None,
    headers: dict[str, str] | None = None,
    pace: Pace | None = None,
) -> DownloadedMedia:
    """Stream ``url`` into ``sink``, checking cap, content type and magic bytes (and
    ``pace``: the transfer's deadline and minimum rate)."""
    check_url(url)
    limit = _limit(kind, max_bytes)
    receiver = MediaReceiver(kind, limit)
    with (
        mapped_download_errors(kind),
        nullcontext(client) if client is not None else new_download_client() as http,
        http.stream("GET", url, headers=headers) as response,
    ):
        _check_answer(response, kind, limit)
        for chunk in response.iter_bytes():
            for part in receiver.add(chunk):
                _write(sink, part)
            if pace is not None:
                pace.add(len(chunk))
    parts, result = receiver.finish()
    for part in parts:
        _write(sink, part)
    return result


async def adownload_media(
    url: str,
    sink: MediaSink,
    kind: MediaType,
    max_bytes: int | None = None,
    *,
    client: httpx.AsyncClient | None = None,
    headers: dict[str, str] | None = None,
    pace: Pace | None = None,
) -> DownloadedMedia:
    """Async twin of :func:`download_media` (a callable sink may return an awaitable)."""
    check_url(url)
    limit = _limit(kind, max_bytes)
    receiver = MediaReceiver(kind, limit)

    async def write(part: bytes) -> None:
        written = _write(sink, part)
        if inspect.isawaitable(written):
            await written

    with within(pace), mapped_download_errors(kind):
        async with (
            nullcontext(client) if client is not None else new_async_download_client() as http,
            http.stream("GET", url, headers=headers) as response,
        ):
            _check_answer(response, kind, limit)
            async for chunk in response.aiter_bytes():
                for part in receiver.add(chunk):
                    await write(part)
                if pace is not None:
                    pace.add(len(chunk))
    parts, result = receiver.finish()
    for part in parts:
        await write(part)
    return result


def _check_answer(response: httpx.Response, kind: MediaType, limit: int) -> None:
    check_response(response, limit, kind, expired=(403, 404, 410))
    check_content_type(response.headers.get("Content-Type"), kind)
