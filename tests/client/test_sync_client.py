"""HaoeeClient over httpx.MockTransport: wire format, error mapping, retries, polling."""

from __future__ import annotations

import json

import httpx
import pytest

from prefect_haoee.client import (
    AuthenticationError,
    ContentRejectedError,
    HaoeeClient,
    HaoeeError,
    InvalidRequestError,
    PollPolicy,
    RateLimitedError,
    ServerError,
    TaskExpiredError,
    TaskNotFoundError,
    TaskTimeoutError,
    TransportError,
)
from prefect_haoee.client.requests.base import LogoInfo
from tests.client.support import (
    API_KEY,
    CODE_TABLE,
    Recorder,
    Sleeps,
    envelope,
    ip_request,
    json_response,
    make,
    settings,
)

IMG = {"image_urls": ["https://files.test/a.png"], "binary_data_base64": []}


def test_generate_builds_the_documented_call() -> None:
    rec = Recorder([json_response(200, envelope(data=IMG))])
    client, _ = make(rec)
    images = client.generate(ip_request())
    req = rec.requests[0]
    assert req.method == "POST"
    assert req.url.path == "/volcv/v1"
    assert dict(req.url.params) == {"Action": "CVProcess", "Version": "2022-08-31"}
    assert req.headers["Authorization"] == f"Bearer {API_KEY}"
    assert req.headers["ModelName"] == "high_aes_ip_v20"
    assert req.headers["Content-Type"] == "application/json"
    body = json.loads(req.content)
    assert body["req_key"] == "high_aes_ip_v20" and body["seed"] == 42
    assert images.urls == ["https://files.test/a.png"]
    assert images.request_id == "20250403151503DD53B34623F59CF8B86D"
    assert images.time_elapsed_s == pytest.approx(0.104852309)


def test_raw_key_auth_scheme_and_model_name_override() -> None:
    rec = Recorder([json_response(200, envelope(data=IMG))])
    client, _ = make(rec, auth_scheme="")
    client.generate(ip_request(), model_name="doubao-seedream-4-5-251128")
    assert rec.requests[0].headers["Authorization"] == API_KEY
    assert rec.requests[0].headers["ModelName"] == "doubao-seedream-4-5-251128"


def test_submit_returns_task_id() -> None:
    rec = Recorder([json_response(200, envelope(data={"task_id": "7392616336519610409"}))])
    client, _ = make(rec)
    submitted = client.submit(ip_request())
    assert submitted.task_id == "7392616336519610409"
    assert submitted.req_key == "high_aes_ip_v20"
    assert rec.requests[0].url.params["Action"] == "CVSync2AsyncSubmitTask"
    # output options travel at poll time (GetResult req_json), never in the submit body
    assert "return_url" not in rec.bodies()[0] and "logo_info" not in rec.bodies()[0]


def test_get_result_sends_req_json_as_a_string() -> None:
    rec = Recorder([json_response(200, envelope(data={"status": "generating"}))])
    client, _ = make(rec)
    result = client.get_result(
        "high_aes_general_v20", "123", return_url=False, logo_info=LogoInfo(add_logo=True)
    )
    assert result.status == "generating" and not result.finished
    body = rec.bodies()[0]
    assert rec.requests[0].url.params["Action"] == "CVSync2AsyncGetResult"
    assert body["req_key"] == "high_aes_general_v20" and body["task_id"] == "123"
    assert isinstance(body["req_json"], str)
    assert json.loads(body["req_json"])["return_url"] is False
    assert json.loads(body["req_json"])["logo_info"]["add_logo"] is True


@pytest.mark.parametrize(("http", "code", "cls", "retryable"), CODE_TABLE)
def test_error_bodies_of_every_code_are_mapped(
    http: int, code: int | None, cls: type[HaoeeError], retryable: bool
) -> None:
    payload = envelope(code=code, message="boom") if code else {"detail": "x"}
    rec = Recorder([json_response(http, payload, {"Retry-After": "1"})])
    client, sleeps = make(rec, max_attempts=1)
    with pytest.raises(HaoeeError) as info:
        client.generate(ip_request())
    if code is None and http not in (401, 403) and http < 500:
        assert isinstance(info.value, InvalidRequestError)
    elif code is None and http >= 500:
        assert info.value.retryable
    else:
        assert type(info.value) is cls
        assert info.value.code == code
    assert info.value.http_status == http
    assert sleeps == []


def test_non_success_code_with_http_200_is_an_error() -> None:
    rec = Recorder([json_response(200, envelope(code=50413, message="Post Text Risk Not Pass"))])
    client, _ = make(rec)
    with pytest.raises(ContentRejectedError) as info:
        client.generate(ip_request())
    assert info.value.code == 50413 and not info.value.retryable
    assert len(rec.requests) == 1  # never retried


def test_openai_style_and_response_metadata_errors_are_parsed() -> None:
    rec = Recorder([json_response(401, {"error": {"message": "invalid api key", "type": "auth"}})])
    client, _ = make(rec)
    with pytest.raises(AuthenticationError, match="invalid api key"):
        client.generate(ip_request())
    meta = {"ResponseMetadata": {"RequestId": "r9", "Error": {"Code": "X", "Message": "bad"}}}
    rec2 = Recorder([json_response(400, meta)])
    client2, _ = make(rec2)
    with pytest.raises(InvalidRequestError, match="X: bad") as info:
        client2.generate(ip_request())
    assert info.value.request_id == "r9"


@pytest.mark.parametrize("status", [200, 502])
def test_non_json_body_is_a_transport_error(status: int) -> None:
    rec = Recorder([httpx.Response(status, content=b"<html>proxy error</html>")])
    client, _ = make(rec, max_attempts=2)
    with pytest.raises(TransportError, match="not its JSON"):
        client.generate(ip_request())
    assert len(rec.requests) == 2


def test_429_retry_after_is_honoured_then_succeeds() -> None:
    rec = Recorder(
        [
            json_response(429, envelope(code=50429), {"Retry-After": "3"}),
            json_response(429, envelope(code=50430), {"Retry-After": "1"}),
            json_response(200, envelope(data=IMG)),
        ]
    )
    client, sleeps = make(rec)
    assert client.generate(ip_request()).count == 1
    # Each Retry-After is waited, plus up to 10 % jitter.
    assert all(w <= s <= 1.1 * w for s, w in zip(sleeps, [3.0, 1.0], strict=True)), sleeps
    assert len(rec.requests) == 3


def test_retry_after_is_capped() -> None:
    rec = Recorder(
        [
            json_response(429, envelope(code=50429), {"Retry-After": "120"}),
            json_response(200, envelope(data=IMG)),
        ]
    )
    client, sleeps = make(rec, retry_after_max=7.0)
    client.generate(ip_request())
    assert len(sleeps) == 1 and 7.0 <= sleeps[0] <= 7.7


def test_a_retry_after_over_the_limit_fails_at_once() -> None:
    """``Retry-After: 100000`` ends the call at once (no sleep, one request), final for
    a task retry too (``paid_sends``)."""
    rec = Recorder([json_response(429, envelope(code=50429), {"Retry-After": "100000"})])
    client, sleeps = make(rec, retry_after_max=7.0, retry_after_limit=300.0)
    with pytest.raises(RateLimitedError, match="over the 300s limit") as caught:
        client.generate(ip_request())
    assert sleeps == [] and len(rec.requests) == 1
    assert caught.value.paid_sends == 1


def test_attempts_are_bounded() -> None:
    rec = Recorder([json_response(500, envelope(code=50500, message="Internal Error"))])
    client, sleeps = make(rec, max_attempts=4)
    with pytest.raises(ServerError):
        client.generate(ip_request())
    assert len(rec.requests) == 4
    assert len(sleeps) == 3
    # exponential with jitter: each sleep within [ceiling/2, ceiling], ceilings 0.5, 1, 2
    for s, ceiling in zip(sleeps, [0.5, 1.0, 2.0], strict=True):
        assert ceiling / 2 <= s <= ceiling


def test_transport_errors_are_retried() -> None:
    rec = Recorder(
        [
            httpx.ConnectError("connection refused"),
            httpx.ReadTimeout("timed out"),
            json_response(200, envelope(data=IMG)),
        ]
    )
    client, sleeps = make(rec)
    client.generate(ip_request())
    assert len(rec.requests) == 3 and len(sleeps) == 2


@pytest.mark.parametrize("code", [50411, 50412, 50413, 50511, 50200, 50207, 50400])
def test_non_retryable_client_errors_are_sent_once(code: int) -> None:
    rec = Recorder([json_response(400, envelope(code=code))])
    client, sleeps = make(rec)
    with pytest.raises(HaoeeError):
        client.generate(ip_request())
    # 50511 is retryable only with a new seed: the client never resends the same body.
    assert len(rec.requests) == 1 and sleeps == []


def test_wait_polls_until_done() -> None:
    rec = Recorder(
        [
            json_response(200, envelope(data={"status": "in_queue"})),
            json_response(200, envelope(data={"status": "generating"})),
            json_response(200, envelope(data={"status": "done", **IMG})),
        ]
    )
    sleeps = Sleeps()
    client = HaoeeClient(
        settings(),
        transport=httpx.MockTransport(rec),
        sleep=sleeps,
        poll=PollPolicy(initial_interval=1, factor=2, max_interval=10, timeout=100),
    )
    images = client.wait("high_aes_general_v20", "1")
    assert images.urls == ["https://files.test/a.png"]
    assert sleeps == [1, 2]


@pytest.mark.parametrize(
    ("status", "exc"), [("not_found", TaskNotFoundError), ("expired", TaskExpiredError)]
)
def test_wait_raises_when_the_task_is_gone(status: str, exc: type[Exception]) -> None:
    rec = Recorder([json_response(200, envelope(data={"status": status}))])
    client, _ = make(rec)
    with pytest.raises(exc):
        client.wait("high_aes_general_v20", "1")
    assert len(rec.requests) == 1


def test_wait_failed_task_raises_its_code() -> None:
    rec = Recorder([json_response(400, envelope(code=50511, message="Post Img Risk Not Pass"))])
    client, _ = make(rec)
    with pytest.raises(ContentRejectedError) as info:
        client.wait("high_aes_general_v20", "1")
    assert info.value.retryable  # output moderation: a new seed may pass


def test_wait_deadline() -> None:
    rec = Recorder([json_response(200, envelope(data={"status": "generating"}))])
    client, _ = make(rec)
    with pytest.raises(TaskTimeoutError):
        client.wait("high_aes_general_v20", "1", timeout=0)


def test_done_without_images_is_an_error() -> None:
    rec = Recorder([json_response(200, envelope(data={"status": "done", "image_urls": []}))])
    client, _ = make(rec)
    with pytest.raises(TransportError, match="no image"):
        client.wait("high_aes_general_v20", "1")


def test_unknown_status_is_an_error() -> None:
    rec = Recorder([json_response(200, envelope(data={"status": "weird"}))])
    client, _ = make(rec, max_attempts=1)
    with pytest.raises(TransportError, match="unknown task status"):
        client.get_result("high_aes_general_v20", "1")


def test_base64_only_answer() -> None:
    rec = Recorder([json_response(200, envelope(data={"binary_data_base64": ["aGVsbG8="]}))])
    client, _ = make(rec)
    images = client.generate(ip_request(return_url=False))
    assert images.sources() == ["aGVsbG8="] and "aGVsbG8=" not in repr(images)


def test_unanswered_paid_calls_are_not_resent_when_forbidden() -> None:
    # A read timeout means the gateway may have generated (and billed) the image.
    rec = Recorder([httpx.ReadTimeout("timed out"), json_response(200, envelope(data=IMG))])
    client, _ = make(rec, resend_unanswered_paid_calls=False)
    with pytest.raises(TransportError) as info:
        client.generate(ip_request())
    assert info.value.request_sent and len(rec.requests) == 1
    # a connect error never reached the gateway: always resent
    rec2 = Recorder([httpx.ConnectError("refused"), json_response(200, envelope(data=IMG))])
    client2, _ = make(rec2, resend_unanswered_paid_calls=False)
    assert client2.generate(ip_request()).count == 1 and len(rec2.requests) == 2
    # polls are free: resent whatever the setting
    rec3 = Recorder(
        [httpx.ReadTimeout("t"), json_response(200, envelope(data={"status": "generating"}))]
    )
    client3, _ = make(rec3, resend_unanswered_paid_calls=False)
    assert client3.get_result("high_aes_general_v20", "1").status == "generating"
