"""download(): http(s) only, size cap, redirects bounded, Pillow-verified, no auth header."""

from __future__ import annotations

import base64
import hashlib

import httpx
import pytest

from prefect_haoee.client import AsyncHaoeeClient, DownloadError, HaoeeClient, TransportError
from prefect_haoee.client.download import adownload_image, download_image, new_download_client
from tests.client.support import Recorder, settings
from tests.support import png_bytes


def files_client(handler: Recorder) -> HaoeeClient:
    return HaoeeClient(settings(), download_transport=httpx.MockTransport(handler))


def test_download_verifies_and_hashes() -> None:
    data = png_bytes(16, 9)
    rec = Recorder([httpx.Response(200, content=data, headers={"Content-Type": "image/png"})])
    with files_client(rec) as client:
        img = client.download("https://files.test/x.png")
    assert img.sha256 == hashlib.sha256(data).hexdigest()
    assert (img.format, img.width, img.height, img.size) == ("PNG", 16, 9, len(data))
    assert img.content_type == "image/png" and img.extension == "png"
    assert "Authorization" not in rec.requests[0].headers  # the key never goes to file hosts


def test_base64_source_is_decoded() -> None:
    data = png_bytes(4, 4)
    img = download_image(base64.b64encode(data).decode())
    assert img.source == "base64" and img.width == 4


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://x/y.png", "gopher://x"])
def test_non_http_schemes_are_refused(url: str) -> None:
    with pytest.raises(DownloadError, match="only http"):
        download_image(url)


def test_not_an_image() -> None:
    rec = Recorder([httpx.Response(200, content=b"<html>not an image</html>")])
    with files_client(rec) as client, pytest.raises(DownloadError, match="not a decodable image"):
        client.download("https://files.test/x.png")


def test_truncated_image() -> None:
    rec = Recorder([httpx.Response(200, content=png_bytes(64, 64)[:60])])
    with files_client(rec) as client, pytest.raises(DownloadError):
        client.download("https://files.test/x.png")


def test_size_cap_by_header_and_by_stream() -> None:
    big = b"\0" * 5000
    rec = Recorder([httpx.Response(200, content=big)])
    with files_client(rec) as client, pytest.raises(DownloadError, match="cap"):
        client.download("https://files.test/x.png", max_bytes=1000)

    def streamed(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=iter([b"\0" * 600] * 10))  # no Content-Length

    with files_client(Recorder([streamed])) as client, pytest.raises(DownloadError, match="cap"):
        client.download("https://files.test/x.png", max_bytes=1000)


def test_expired_url_is_a_clear_error() -> None:
    rec = Recorder([httpx.Response(403, content=b"expired")])
    with files_client(rec) as client, pytest.raises(DownloadError, match="expired"):
        client.download("https://files.test/x.png")


def test_file_host_5xx_is_retryable_transport_error() -> None:
    rec = Recorder([httpx.Response(503)])
    with files_client(rec) as client, pytest.raises(TransportError) as info:
        client.download("https://files.test/x.png")
    assert info.value.retryable


def test_redirect_loop_is_refused() -> None:
    def loop(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": str(request.url)})

    client = new_download_client(httpx.MockTransport(Recorder([loop])))
    with pytest.raises(DownloadError, match="redirects"):
        download_image("https://files.test/loop", client=client)


def test_redirect_to_file_scheme_is_refused() -> None:
    def to_file(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "file:///etc/passwd"})

    client = new_download_client(httpx.MockTransport(Recorder([to_file])))
    with pytest.raises(DownloadError):
        download_image("https://files.test/x", client=client)


async def test_async_download() -> None:
    data = png_bytes(5, 7)
    rec = Recorder([httpx.Response(200, content=data)])
    async with AsyncHaoeeClient(settings(), download_transport=httpx.MockTransport(rec)) as client:
        img = await client.download("https://files.test/x.png")
    assert (img.width, img.height) == (5, 7)
    with pytest.raises(DownloadError):
        await adownload_image("file:///etc/passwd")
