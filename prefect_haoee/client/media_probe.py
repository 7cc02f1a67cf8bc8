"""What a video or audio file is, from its bytes: container (magic bytes) and duration.

MP4/M4A from the ``mvhd`` box (wherever ``moov`` is), WAV from its header, MP3 from a
Xing/Info header or else as CBR (bytes x 8 / bitrate: an estimate); WebM: None. The
probes are fed chunk by chunk while a download streams.
"""

from __future__ import annotations

import struct
from typing import Literal

MediaType = Literal["video", "audio"]

MB = 1024 * 1024
SNIFF_BYTES = 64
MOOV_MAX_BYTES = 16 * MB
HEADER_PROBE_BYTES = 256 * 1024

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


def describe(head: bytes) -> str:
    if head.startswith(b"\x89PNG") or head.startswith(b"\xff\xd8\xff"):
        return "an image"
    text = head.lstrip()[:15].lower()
    if text.startswith((b"<!doctype", b"<html", b"<?xml")):
        return "HTML/XML"
    if text.startswith((b"{", b"[")):
        return "JSON"
    return f"unknown bytes {head[:8].hex()}"


# -- duration probes ------------------------------------------------------------------------


class Probe:
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


class _Mp4Probe(Probe):
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


class _HeadProbe(Probe):
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


def probe_for(fmt: str) -> Probe:
    if fmt in ("mp4", "mov", "m4a"):
        return _Mp4Probe()
    if fmt == "wav":
        return _WavProbe()
    if fmt == "mp3":
        return _Mp3Probe()
    return Probe()


def media_duration(data: bytes, fmt: str | None = None) -> float | None:
    """Duration in seconds of a whole media file in memory (None if unknown)."""
    fmt = fmt or sniff_media(data[:SNIFF_BYTES])
    if fmt is None:
        return None
    probe = probe_for(fmt)
    probe.feed(data)
    return probe.duration(len(data))
