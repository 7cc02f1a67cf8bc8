"""Streamed media downloads (unit, MockTransport): magic bytes, content types, caps,
sinks, and durations read while streaming (MP4 moov first or last, WAV, MP3)."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Iterator

import httpx
import pytest

from prefect_haoee.client.errors import DownloadError, TransportError
from prefect_haoee.client.media import (
    DEFAULT_MAX_MEDIA_BYTES,
    DownloadedMedia,
    MediaReceiver,
    MediaType,
    adownload_media,
    download_media,
    media_duration,
    mp3_duration,
    sniff_media,
    wav_duration,
)
from prefect_haoee.simulator.media import mp3_bytes, mp4_bytes, wav_bytes

URL = "https://files.example/out"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(100)


class Chunks(httpx.SyncByteStream):
    def __init__(self, data: bytes, size: int) -> None:
        self.data, self.size = data, size

    def __iter__(self) -> Iterator[bytes]:
        for i in range(0, len(self.data), self.size):
            yield self.data[i : i + self.size]


def client(
    body: bytes, content_type: str | None = "video/mp4", status: int = 200, chunk: int = 7
) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Type": content_type} if content_type else {}
        return httpx.Response(status, headers=headers, stream=Chunks(body, chunk))

    return httpx.Client(transport=httpx.MockTransport(handler))


def fetch(
    body: bytes,
    kind: MediaType = "video",
    *,
    content_type: str | None = "video/mp4",
    chunk: int = 7,
    max_bytes: int | None = None,
) -> tuple[bytes, DownloadedMedia]:
    parts: list[bytes] = []
    with client(body, content_type, chunk=chunk) as http:
        media = download_media(URL, parts.append, kind, max_bytes, client=http)
    return b"".join(parts), media


@pytest.mark.parametrize("moov_first", [False, True])
@pytest.mark.parametrize("chunk", [1, 5, 4096])
def test_mp4_streams_with_its_duration(moov_first: bool, chunk: int) -> None:
    body = mp4_bytes("key", 7.5, moov_first=moov_first)
    data, media = fetch(body, chunk=chunk)
    assert data == body
    assert media.format == "mp4" and media.size == len(body)
    assert media.duration_s == 7.5
    assert media_duration(body) == 7.5


def test_mp4_with_a_64bit_box_size() -> None:
    ftyp = struct.pack(">I", 16) + b"ftypisom" + bytes(4)
    mdat = struct.pack(">I", 1) + b"mdat" + struct.pack(">Q", 16 + 10) + bytes(10)
    moov = mp4_bytes("k", 3.0, moov_first=True)[28:]  # the moov box of a plain file
    body = ftyp + mdat + moov
    assert fetch(body, chunk=3)[1].duration_s == 3.0


def test_webm_is_video_without_a_duration() -> None:
    body = b"\x1a\x45\xdf\xa3" + b"\x9f\x42\x86\x81\x01\x42\x82\x84webm" + bytes(200)
    _, media = fetch(body, content_type="video/webm")
    assert media.format == "webm" and media.duration_s is None


def test_wav_and_mp3_are_audio_with_durations() -> None:
    wav = wav_bytes("k", 1.25)
    assert fetch(wav, "audio", content_type="audio/wav")[1].duration_s == 1.25
    assert wav_duration(wav) == 1.25
    mp3 = mp3_bytes(3.0)
    _, media = fetch(mp3, "audio", content_type="audio/mpeg", chunk=100)
    assert media.format == "mp3"
    assert media.duration_s == pytest.approx(3.0, abs=0.04)
    tagged = b"ID3\x04\x00\x00\x00\x00\x00\x0a" + bytes(10) + mp3
    assert mp3_duration(tagged, len(tagged)) == pytest.approx(3.0, abs=0.04)


def test_mp3_xing_header_gives_the_frame_count() -> None:
    frame = bytearray(b"\xff\xfb\x18\xc0" + bytes(140))
    frame[4 + 17 : 4 + 17 + 12] = b"Xing" + struct.pack(">II", 1, 1000)
    assert mp3_duration(bytes(frame) * 3) == pytest.approx(1000 * 1152 / 32000)


def test_m4a_is_audio() -> None:
    body = mp4_bytes("k", 2.0)
    _, media = fetch(body, "audio", content_type="audio/mp4")
    assert media.format == "m4a" and media.duration_s == 2.0
    assert sniff_media(body[:64]) == "mp4" and sniff_media(body[:64], "audio") == "m4a"


@pytest.mark.parametrize(
    ("body", "content_type", "kind", "match"),
    [
        (PNG, "application/octet-stream", "video", "an image"),
        (PNG, None, "audio", "an image"),
        (b"<!DOCTYPE html><html>denied</html>" + bytes(40), None, "video", "HTML"),
        (b'{"error": "expired"}' + bytes(60), None, "video", "JSON"),
        (mp4_bytes("k", 1.0), "text/html", "video", "text/html"),
        (mp4_bytes("k", 1.0), "image/png", "video", "image/png"),
        (wav_bytes("k", 0.1), "audio/wav", "video", "audio/wav"),
        (mp4_bytes("k", 1.0), "video/mp4", "audio", "m4a"),
        (wav_bytes("k", 0.1), None, "video", "is wav"),
        (b"", None, "video", "empty"),
        (b"RIFF", None, "audio", "unknown bytes"),
    ],
)
def test_not_the_kind_is_refused_before_the_sink(
    body: bytes, content_type: str | None, kind: MediaType, match: str
) -> None:
    parts: list[bytes] = []
    if match == "m4a":  # m4a as video/mp4 is fine for audio
        with client(body, content_type) as http:
            assert download_media(URL, parts.append, "audio", client=http).format == "m4a"
        return
    with client(body, content_type) as http, pytest.raises(DownloadError, match=match):
        download_media(URL, parts.append, kind, client=http)
    assert parts == []


def test_the_cap_stops_the_stream() -> None:
    body = mp4_bytes("k", 1.0)
    parts: list[bytes] = []
    with client(body, chunk=1000) as http, pytest.raises(DownloadError, match="5000-byte cap"):
        download_media(URL, parts.append, "video", 5000, client=http)
    assert sum(len(p) for p in parts) <= 5000


def test_a_declared_length_over_the_cap_is_refused_before_reading() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Length": str(600 * 2**20)}, content=b"x")

    with (
        httpx.Client(transport=httpx.MockTransport(handler)) as http,
        pytest.raises(DownloadError, match="over the"),
    ):
        download_media(URL, lambda b: None, "video", client=http)
    assert DEFAULT_MAX_MEDIA_BYTES == {"video": 500 * 2**20, "audio": 100 * 2**20}


@pytest.mark.parametrize(("status", "error"), [(404, DownloadError), (503, TransportError)])
def test_file_host_errors(status: int, error: type[Exception]) -> None:
    with client(b"", None, status=status) as http, pytest.raises(error):
        download_media(URL, lambda b: None, "audio", client=http)


def test_only_http_urls() -> None:
    with pytest.raises(DownloadError, match="only http"):
        download_media("file:///etc/passwd", lambda b: None, "video")
    with pytest.raises(ValueError, match="kind"):
        download_media(URL, lambda b: None, "image")  # type: ignore[arg-type]


def test_a_file_like_sink(tmp_path: object) -> None:
    import pathlib

    path = pathlib.Path(str(tmp_path)) / "out.mp4"
    body = mp4_bytes("k", 4.0)
    with client(body) as http, path.open("wb") as f:
        media = download_media(URL, f, "video", client=http)
    assert path.read_bytes() == body and media.extension == "mp4"


def test_receiver_releases_nothing_before_the_magic_bytes() -> None:
    receiver = MediaReceiver("video", 10_000)
    body = mp4_bytes("k", 1.0)
    assert receiver.add(body[:10]) == []
    released = receiver.add(body[10:100])
    assert b"".join(released) == body[:100]


def test_async_download_awaits_an_async_sink() -> None:
    body = mp4_bytes("k", 6.0)
    got: list[bytes] = []

    async def sink(data: bytes) -> None:
        await asyncio.sleep(0)
        got.append(data)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Type": "video/mp4"}, content=body)

    async def main() -> object:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            return await adownload_media(URL, sink, "video", client=http)

    media = asyncio.run(main())
    assert isinstance(media, DownloadedMedia)
    assert b"".join(got) == body and media.duration_s == 6.0
