"""Result media of the simulated video and music families: real, tiny, deterministic files.

* MP4: ``ftyp`` + ``mdat`` + ``moov`` (``mvhd`` with the requested duration), written by
  hand; ``moov`` comes last (as in a file that was not "fast-started"), so a streaming
  reader must walk past ``mdat`` to find the duration.
* MP3: silent MPEG-1 Layer III frames (32 kbps, 32 kHz, mono; 144 bytes a frame).
* WAV: 8 kHz 8-bit mono PCM, a soft tone.

Bytes follow from the request hash (the ``mdat`` payload is a sha256 stream of it), so the
same request always gives the same file. Files are served from ``/files/media/{id}.{ext}``
behind links that expire after ``url_ttl_s`` on the simulator clock.
"""

from __future__ import annotations

import hashlib
import math
import struct
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from prefect_haoee.simulator.clock import SimClock
from prefect_haoee.simulator.files import FileStore

MediaFormat = Literal["mp4", "mp3", "wav"]
MEDIA_TYPES: dict[str, str] = {"mp4": "video/mp4", "mp3": "audio/mpeg", "wav": "audio/wav"}
MDAT_BYTES = 24 * 1024
MP4_TIMESCALE = 1000
MP3_FRAME = b"\xff\xfb\x18\xc0"  # MPEG-1 Layer III, no CRC, 32 kbps, 32 kHz, mono
MP3_FRAME_BYTES = 144  # 144 * 32000 / 32000
MP3_FRAME_SECONDS = 1152 / 32000
WAV_RATE = 8000
MAX_DURATION_S = 600.0


@dataclass(frozen=True)
class MediaSpec:
    """What decides a media file's bytes."""

    content_key: str
    fmt: MediaFormat
    duration_s: float

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.fmt]

    @property
    def extension(self) -> str:
        return self.fmt


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _stream(key: str, size: int) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{key}/{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


def mvhd_box(duration_s: float, timescale: int = MP4_TIMESCALE) -> bytes:
    """A version-0 ``mvhd`` (movie header) box."""
    matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    payload = (
        struct.pack(">B3xIIII", 0, 0, 0, timescale, round(duration_s * timescale))
        + struct.pack(">IH10x", 0x00010000, 0x0100)  # rate 1.0, volume 1.0, reserved
        + matrix
        + bytes(24)  # pre_defined
        + struct.pack(">I", 2)  # next_track_ID
    )
    return _box(b"mvhd", payload)


def mp4_bytes(content_key: str, duration_s: float, *, moov_first: bool = False) -> bytes:
    ftyp = _box(b"ftyp", b"isom" + struct.pack(">I", 0x200) + b"isomiso2mp41")
    mdat = _box(b"mdat", _stream(content_key, MDAT_BYTES))
    moov = _box(b"moov", mvhd_box(duration_s))
    return ftyp + (moov + mdat if moov_first else mdat + moov)


def mp3_bytes(duration_s: float) -> bytes:
    frames = max(1, math.ceil(duration_s / MP3_FRAME_SECONDS))
    return (MP3_FRAME + bytes(MP3_FRAME_BYTES - len(MP3_FRAME))) * frames


def wav_bytes(content_key: str, duration_s: float, rate: int = WAV_RATE) -> bytes:
    count = max(1, round(duration_s * rate))
    pitch = 220 + int(hashlib.sha256(content_key.encode()).hexdigest()[:4], 16) % 440
    samples = bytes(128 + int(40 * math.sin(2 * math.pi * pitch * i / rate)) for i in range(count))
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate, 1, 8)  # PCM, mono, 8-bit
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(samples)) + samples
    if len(samples) % 2:
        body += b"\x00"
    return b"RIFF" + struct.pack("<I", len(body)) + body


@lru_cache(maxsize=64)
def render_media(spec: MediaSpec) -> bytes:
    duration = max(0.1, min(spec.duration_s, MAX_DURATION_S))
    if spec.fmt == "mp4":
        return mp4_bytes(spec.content_key, duration)
    if spec.fmt == "mp3":
        return mp3_bytes(duration)
    return wav_bytes(spec.content_key, duration)


def media_store(clock: SimClock, url_ttl_s: float) -> FileStore[MediaSpec]:
    """Expiring ``/files/media/{id}.{ext}`` links (the image store's type)."""
    return FileStore(clock, url_ttl_s, path="files/media/")
