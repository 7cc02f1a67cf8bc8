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
import struct
from collections.abc import Callable
from typing import Literal, Protocol, runtime_checkable

import httpx
from pydantic import BaseModel, ConfigDict

from prefect_haoee.client.download import check_url, new_async_download_client, new_download_client
from prefect_haoee.client.errors import DownloadError, TransportError

MediaType = Literal["video", "audio"]

MB = 1024 * 1024
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
SNIFF_BYTES = 64
NEUTRAL_TYPES = frozenset(
    {"application/octet-stream", "binary/octet-stream", "application/binary", "application/mp4"}
)
MOOV_MAX_BYTES = 16 * MB
HEADER_PROBE_BYTES = 256 * 1024


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


# -- magic bytes ----------------------------------------------------------------------------


def _mp3_frame_ok(head: bytes) -> bool:
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version, layer = (head[1] >> 3) & 3, (head[1] >> 1) & 3
    bitrate, rate = head[2] >> 4, (head[2] >> 2) & 3
    return version != 1 and layer != 0 and bitrate not in (0, 15) and rate != 3


def sniff_media(head: bytes, kind: MediaType | None = None) -> str | None:
    """The container of a file from its first bytes (``mp4``, ``webm``, ``wav``...), or None."""
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if kind == "audio" or (kind is None and brand in (b"M4A ", b"M4B ")):
            return "m4a"
        return "mov" if brand == b"qt  " else "mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm" if b"webm" in head[:64] else "mkv"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:3] == b"ID3" or _mp3_frame_ok(head):
        return "mp3"
    return None


def _describe(head: bytes) -> str:
    if head.startswith(b"\x89PNG") or head.startswith(b"\xff\xd8\xff"):
        return "an image"
    text = head.lstrip()[:15].lower()
    if text.startswith((b"<!doctype", b"<html", b"<?xml")):
        return "HTML/XML"
    if text.startswith((b"{", b"[")):
        return "JSON"
    return f"unknown bytes {head[:8].hex()}"


# -- duration probes ------------------------------------------------------------------------


class _Probe:
    def feed(self, chunk: bytes) -> None:
        return None

    def duration(self, total: int) -> float | None:
        return None


def mvhd_duration(moov: bytes) -> float | None:
    """Seconds from the ``mvhd`` box inside a ``moov`` body."""
    pos = 0
    while pos + 8 <= len(moov):
        size, kind = struct.unpack(">I4s", moov[pos : pos + 8])
        header = 8
        if size == 1 and pos + 16 <= len(moov):
            size = struct.unpack(">Q", moov[pos + 8 : pos + 16])[0]
            header = 16
        elif size == 0:
            size = len(moov) - pos
        if size < header:
            return None
        if kind == b"mvhd":
            body = moov[pos + header : pos + size]
            if len(body) >= 20 and body[0] == 0:
                timescale, duration = struct.unpack(">II", body[12:20])
                unknown = duration == 0xFFFFFFFF
            elif len(body) >= 32 and body[0] == 1:
                timescale, duration = struct.unpack(">IQ", body[20:32])
                unknown = duration == 0xFFFFFFFFFFFFFFFF
            else:
                return None
            if not timescale or unknown:
                return None
            return float(duration) / float(timescale)
        pos += size
    return None


class _Mp4Probe(_Probe):
    """Walks top-level boxes as bytes stream by: skips ``mdat``, keeps ``moov`` (≤16 MB)."""

    def __init__(self) -> None:
        self._header = bytearray()
        self._skip = 0
        self._moov: bytearray | None = None
        self._moov_left = 0
        self._done = False
        self._duration: float | None = None

    def feed(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        while len(view) and not self._done:
            if self._skip:
                n = min(self._skip, len(view))
                self._skip -= n
                view = view[n:]
            elif self._moov is not None:
                n = min(self._moov_left, len(view))
                self._moov += view[:n]
                self._moov_left -= n
                view = view[n:]
                if not self._moov_left:
                    self._duration = mvhd_duration(bytes(self._moov))
                    self._done = True
            else:
                view = self._read_header(view)

    def _read_header(self, view: memoryview) -> memoryview:
        need = 16 if len(self._header) >= 8 and self._size32() == 1 else 8
        n = min(need - len(self._header), len(view))
        self._header += view[:n]
        view = view[n:]
        if len(self._header) < need:
            return view
        if need == 8 and self._size32() == 1:
            return view  # a 64-bit size follows
        size = self._size32()
        header = 8
        if size == 1:
            size = struct.unpack(">Q", self._header[8:16])[0]
            header = 16
        kind = bytes(self._header[4:8])
        self._header = bytearray()
        if size == 0 or size < header:
            self._done = True  # the box runs to the end of the file (or is broken)
        elif kind == b"moov":
            if size - header > MOOV_MAX_BYTES:
                self._done = True
            else:
                self._moov = bytearray()
                self._moov_left = size - header
                if not self._moov_left:
                    self._done = True
        else:
            self._skip = size - header
        return view

    def _size32(self) -> int:
        size: int = struct.unpack(">I", self._header[:4])[0]
        return size

    def duration(self, total: int) -> float | None:
        return self._duration


class _HeadProbe(_Probe):
    """Keeps the first bytes of a file (headers live there)."""

    def __init__(self) -> None:
        self.head = bytearray()

    def feed(self, chunk: bytes) -> None:
        if len(self.head) < HEADER_PROBE_BYTES:
            self.head += chunk[: HEADER_PROBE_BYTES - len(self.head)]


class _WavProbe(_HeadProbe):
    def duration(self, total: int) -> float | None:
        return wav_duration(bytes(self.head), total)


class _Mp3Probe(_HeadProbe):
    def duration(self, total: int) -> float | None:
        return mp3_duration(bytes(self.head), total)


def wav_duration(head: bytes, total: int | None = None) -> float | None:
    """Seconds of a WAV file from its header (``data`` size / ``fmt`` byte rate)."""
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    pos = 12
    byte_rate = 0
    while pos + 8 <= len(head):
        kind, size = head[pos : pos + 4], int(struct.unpack("<I", head[pos + 4 : pos + 8])[0])
        if kind == b"fmt " and pos + 20 <= len(head):
            byte_rate = int(struct.unpack("<I", head[pos + 16 : pos + 20])[0])
        elif kind == b"data":
            if not byte_rate:
                return None
            available = (total if total is not None else len(head)) - (pos + 8)
            if size in (0, 0xFFFFFFFF) or size > available:
                size = max(0, available)
            return size / byte_rate
        pos += 8 + size + (size & 1)
    return None


_MP3_BITRATES = {
    (3, 3): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (3, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (3, 1): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (2, 3): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (2, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (2, 1): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def mp3_duration(head: bytes, total: int | None = None) -> float | None:
    """Seconds of an MP3: frames from a Xing/Info header, else CBR (an estimate)."""
    start = 0
    if head[:3] == b"ID3" and len(head) >= 10:
        size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]
        start = 10 + size + (10 if head[5] & 0x10 else 0)
    pos = start
    while pos + 4 <= len(head) and not _mp3_frame_ok(head[pos : pos + 4]):
        pos += 1
        if pos - start > 4096:
            return None
    if pos + 4 > len(head):
        return None
    b1, b2, b3 = head[pos + 1], head[pos + 2], head[pos + 3]
    version, layer = (b1 >> 3) & 3, (b1 >> 1) & 3
    table_version = 3 if version == 3 else 2
    bitrate = _MP3_BITRATES[(table_version, layer)][b2 >> 4] * 1000
    rate = _MP3_RATES[version][(b2 >> 2) & 3]
    samples = 384 if layer == 3 else 1152 if (layer == 2 or version == 3) else 576
    mono = (b3 >> 6) == 3
    side = (17 if mono else 32) if version == 3 else (9 if mono else 17)
    xing = pos + 4 + side
    if head[xing : xing + 4] in (b"Xing", b"Info") and len(head) >= xing + 12:
        flags = struct.unpack(">I", head[xing + 4 : xing + 8])[0]
        if flags & 1:
            frames = struct.unpack(">I", head[xing + 8 : xing + 12])[0]
            frames = int(frames)
            return frames * samples / rate
    size = (total if total is not None else len(head)) - pos
    return size * 8 / bitrate if bitrate else None


def _probe_for(fmt: str) -> _Probe:
    if fmt in ("mp4", "mov", "m4a"):
        return _Mp4Probe()
    if fmt == "wav":
        return _WavProbe()
    if fmt == "mp3":
        return _Mp3Probe()
    return _Probe()


def media_duration(data: bytes, fmt: str | None = None) -> float | None:
    """Duration in seconds of a whole media file in memory (None if unknown)."""
    fmt = fmt or sniff_media(data[:SNIFF_BYTES])
    if fmt is None:
        return None
    probe = _probe_for(fmt)
    probe.feed(data)
    return probe.duration(len(data))


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


def _check_status(response: httpx.Response, kind: MediaType, max_bytes: int) -> None:
    status = response.status_code
    if status >= 500:
        raise TransportError(f"file host answered HTTP {status}", http_status=status)
    if status >= 400:
        hint = " (the result URL may have expired)" if status in (403, 404, 410) else ""
        raise DownloadError(f"{kind} download failed with HTTP {status}{hint}", http_status=status)
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise DownloadError(f"{kind} is {int(declared)} bytes, over the {max_bytes}-byte cap")


class MediaReceiver:
    """Checks streamed bytes and says what may be written (sans-IO; used by both twins)."""

    def __init__(self, kind: MediaType, max_bytes: int) -> None:
        self.kind = kind
        self.max_bytes = max_bytes
        self.size = 0
        self.format: str | None = None
        self._head = bytearray()
        self._sha = hashlib.sha256()
        self._probe: _Probe = _Probe()

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
            shown = fmt if fmt is not None else _describe(head)
            accepted = ", ".join(sorted(ACCEPTED_FORMATS[self.kind]))
            raise DownloadError(f"the file is {shown}, not {self.kind} ({accepted})")
        self.format = fmt
        self._probe = _probe_for(fmt)
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
) -> DownloadedMedia:
    """Stream ``url`` into ``sink``, checking cap, content type and magic bytes."""
    check_url(url)
    limit = _limit(kind, max_bytes)
    own = client is None
    http = client or new_download_client()
    try:
        with http.stream("GET", url, headers=headers) as response:
            _check_status(response, kind, limit)
            check_content_type(response.headers.get("Content-Type"), kind)
            receiver = MediaReceiver(kind, limit)
            for chunk in response.iter_bytes():
                for part in receiver.add(chunk):
                    _write(sink, part)
            parts, result = receiver.finish()
            for part in parts:
                _write(sink, part)
    except httpx.TooManyRedirects:
        raise DownloadError(f"too many redirects while downloading the {kind}") from None
    except httpx.UnsupportedProtocol as exc:
        raise DownloadError(f"download redirected to an unsupported URL: {exc}") from None
    except httpx.HTTPError as exc:
        raise TransportError(f"download failed: {type(exc).__name__}: {exc}") from None
    finally:
        if own:
            http.close()
    return result


async def adownload_media(
    url: str,
    sink: MediaSink,
    kind: MediaType,
    max_bytes: int | None = None,
    *,
    client: httpx.AsyncClient | None = None,
    headers: dict[str, str] | None = None,
) -> DownloadedMedia:
    """Async twin of :func:`download_media` (a callable sink may return an awaitable)."""
    check_url(url)
    limit = _limit(kind, max_bytes)
    own = client is None
    http = client or new_async_download_client()
    try:
        async with http.stream("GET", url, headers=headers) as response:
            _check_status(response, kind, limit)
            check_content_type(response.headers.get("Content-Type"), kind)
            receiver = MediaReceiver(kind, limit)
            async for chunk in response.aiter_bytes():
                for part in receiver.add(chunk):
                    written = _write(sink, part)
                    if inspect.isawaitable(written):
                        await written
            parts, result = receiver.finish()
            for part in parts:
                written = _write(sink, part)
                if inspect.isawaitable(written):
                    await written
    except httpx.TooManyRedirects:
        raise DownloadError(f"too many redirects while downloading the {kind}") from None
    except httpx.UnsupportedProtocol as exc:
        raise DownloadError(f"download redirected to an unsupported URL: {exc}") from None
    except httpx.HTTPError as exc:
        raise TransportError(f"download failed: {type(exc).__name__}: {exc}") from None
    finally:
        if own:
            await http.aclose()
    return result
