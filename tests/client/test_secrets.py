"""The API key never shows in a repr, a log line or an exception text."""

from __future__ import annotations

import logging

import httpx
import pytest

from prefect_haoee.client import HaoeeClient, HaoeeError, HaoeeSettings
from tests.client.support import API_KEY, Recorder, envelope, ip_request, json_response, settings


def test_settings_and_client_reprs_hide_the_key() -> None:
    s = settings()
    assert API_KEY not in repr(s) and API_KEY not in str(s)
    assert API_KEY not in s.model_dump_json()
    client = HaoeeClient(s)
    assert API_KEY not in repr(client)


def test_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAOEE_API_KEY", API_KEY)
    monkeypatch.setenv("HAOEE_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("HAOEE_AUTH_SCHEME", "")
    s = HaoeeSettings()
    assert s.api_key.get_secret_value() == API_KEY
    assert s.base_url == "http://127.0.0.1:9"
    assert s.authorization_header() == API_KEY
    assert s.read_timeout >= 120 and s.connect_timeout == 10


@pytest.mark.parametrize(
    "answer",
    [
        json_response(401, envelope(code=50400, message=f"bad key {API_KEY}")),
        httpx.Response(200, content=f"<html>{API_KEY}</html>".encode()),
        httpx.ConnectError(f"cannot connect with Bearer {API_KEY}"),
    ],
)
def test_errors_and_logs_never_carry_the_key(
    answer: httpx.Response | Exception, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    rec = Recorder([answer])
    client = HaoeeClient(
        settings(max_attempts=2), transport=httpx.MockTransport(rec), sleep=lambda s: None
    )
    with pytest.raises(HaoeeError) as info:
        client.generate(ip_request())
    assert API_KEY not in str(info.value) and API_KEY not in repr(info.value)
    assert API_KEY not in caplog.text


def test_missing_key_fails_before_any_call() -> None:
    from prefect_haoee.client import AuthenticationError

    rec = Recorder([json_response(200, envelope(data={"image_urls": ["https://x/y.png"]}))])
    client = HaoeeClient(settings(api_key=""), transport=httpx.MockTransport(rec))
    with pytest.raises(AuthenticationError, match="HAOEE_API_KEY"):
        client.generate(ip_request())
    assert rec.requests == []
