"""What the client tells the layer above about a paid call it gave up on (unit, MockTransport).

``paid_sends`` counts the attempts of a paid call that may have reached the gateway; a
task retry must not resend a call whose count is above 0 (``tasks.retry_rules``). A success
answer without its image or task id is an ``UnusableAnswerError``: billed, never resent.
"""

from __future__ import annotations

import httpx
import pytest

from prefect_haoee.client import (
    ServerError,
    TransportError,
    UnusableAnswerError,
)
from tests.client.support import Recorder, envelope, ip_request, json_response, make


def test_an_unanswered_paid_call_counts_every_send() -> None:
    rec = Recorder([httpx.Response(200, content=b"<html>oops</html>")])
    client, _ = make(rec, max_attempts=4)
    with pytest.raises(TransportError) as caught:
        client.generate(ip_request())
    assert len(rec.requests) == 4 and caught.value.paid_sends == 4


def test_the_resend_setting_stops_after_one_send_and_says_so() -> None:
    rec = Recorder([httpx.ReadError("connection reset")])
    client, _ = make(rec, max_attempts=4, resend_unanswered_paid_calls=False)
    with pytest.raises(TransportError) as caught:
        client.generate(ip_request())
    assert len(rec.requests) == 1 and caught.value.paid_sends == 1


def test_connect_errors_never_reached_the_gateway() -> None:
    """A paid call that never got through: a later task retry may still send it."""
    rec = Recorder([httpx.ConnectError("refused")])
    client, _ = make(rec, max_attempts=3)
    with pytest.raises(TransportError) as caught:
        client.generate(ip_request())
    assert len(rec.requests) == 3 and caught.value.paid_sends == 0


def test_a_free_call_is_never_marked() -> None:
    rec = Recorder([json_response(500, envelope(code=50500, message="Internal Error"))])
    client, _ = make(rec, max_attempts=2)
    with pytest.raises(ServerError) as caught:
        client.get_result("high_aes_general_v20", "t1")
    assert caught.value.paid_sends == 0


@pytest.mark.parametrize("action", ["generate", "submit"])
def test_a_success_answer_without_its_result_is_billed_and_final(action: str) -> None:
    rec = Recorder([json_response(200, envelope(data={}))])
    client, sleeps = make(rec, max_attempts=4)
    with pytest.raises(UnusableAnswerError) as caught:
        getattr(client, action)(ip_request())
    error = caught.value
    assert len(rec.requests) == 1 and sleeps == []
    assert not error.retryable and error.paid_sends == 1
    assert error.request_id == "20250403151503DD53B34623F59CF8B86D"
    assert "billed" in str(error) and "not resent" in str(error)
    assert isinstance(error, TransportError)  # still "no usable answer" for callers
