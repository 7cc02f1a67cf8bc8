"""The key never leaves the client in an error's text, whatever the gateway echoes (unit)."""

from __future__ import annotations

import httpx
import pytest

from prefect_haoee.client import DownloadError, HaoeeClient, HaoeeError
from prefect_haoee.client.redact import make_scrubber
from tests.client.support import (
    API_KEY,
    Recorder,
    envelope,
    ip_request,
    json_response,
    make,
    settings,
)


def fragments() -> set[str]:
    return {API_KEY[i : i + 8] for i in range(len(API_KEY) - 7)}


def assert_clean(error: BaseException) -> None:
    text = f"{error} {error!r} {getattr(error, 'request_id', '')} {error.args}"
    assert not [f for f in fragments() if f in text], text


@pytest.mark.parametrize(
    "answer",
    [
        json_response(401, envelope(code=50400, message=f"bad token Bearer {API_KEY[:9]}")),
        json_response(400, {"code": 50200, "message": "x", "request_id": API_KEY[3:15]}),
        httpx.Response(401, content=f"Authorization: {API_KEY[:11]}".encode()),
        httpx.Response(502, content=f"upstream saw ...{API_KEY[4:16]}...".encode()),
        json_response(400, {"error": {"message": f"key {API_KEY} unknown"}}),
    ],
)
def test_echoed_fragments_are_scrubbed(answer: httpx.Response) -> None:
    client, _ = make(Recorder([answer]), max_attempts=1)
    with pytest.raises(HaoeeError) as caught:
        client.generate(ip_request())
    assert_clean(caught.value)


def test_a_download_error_quoting_the_file_host_is_scrubbed() -> None:
    def files(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Type": f"text/{API_KEY[2:14]}"})

    client = HaoeeClient(settings(), download_transport=httpx.MockTransport(files))
    parts: list[bytes] = []
    with pytest.raises(DownloadError) as caught:
        client.download_media("https://files.test/a.mp4", parts.append, "video")
    assert "Content-Type" in str(caught.value)
    assert_clean(caught.value)


def test_the_key_is_not_in_vars() -> None:
    client = HaoeeClient(settings())
    assert not [f for f in fragments() if f in repr(vars(client))]


def test_short_keys_and_no_key() -> None:
    assert make_scrubber("abc12")("say abc12 twice abc12") == "say *** twice ***"
    assert make_scrubber("")("Bearer xyz and text") == "Bearer *** and text"
