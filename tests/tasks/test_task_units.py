"""Unit tests of the task layer's pure parts: retry rules, reseeding, modes."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from prefect_haoee.client.errors import (
    AuthenticationError,
    ContentRejectedError,
    InvalidRequestError,
    RateLimitedError,
    ServerError,
    TaskExpiredError,
    TaskTimeoutError,
    TransportError,
    UnusableAnswerError,
)
from prefect_haoee.tasks.produce import reseed, resolve_mode
from prefect_haoee.tasks.retry_rules import is_retryable
from tests.tasks.produce_support import async_request, sync_request


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (RateLimitedError("x", code=50429), True),
        (ServerError("x", code=50500), True),
        (TransportError("x"), True),
        (TaskTimeoutError("x"), True),
        (ContentRejectedError("x", code=50511), False),  # reseeded by produce_image instead
        (ContentRejectedError("x", code=50413), False),
        (AuthenticationError("x"), False),
        (InvalidRequestError("x", code=50200), False),
        (TaskExpiredError("x"), False),
        (EndpointConnectionError(endpoint_url="http://s3"), True),
        (ClientError({"Error": {"Code": "SlowDown"}}, "PutObject"), True),
        (
            ClientError(
                {"Error": {"Code": "AccessDenied"}, "ResponseMetadata": {"HTTPStatusCode": 403}},
                "PutObject",
            ),
            False,
        ),
        (
            ClientError(
                {"Error": {"Code": "X"}, "ResponseMetadata": {"HTTPStatusCode": 503}}, "PutObject"
            ),
            True,
        ),
        (ValueError("bug"), False),
        (None, False),
    ],
)
def test_retry_rules(exc: BaseException | None, expected: bool) -> None:
    assert is_retryable(exc) is expected


def test_a_paid_call_the_client_gave_up_on_is_final_for_task_retries() -> None:
    """HAOEE_MAX_ATTEMPTS holds over both layers: the client spent the budget (or the
    resend setting stopped it), so no task retry sends the paid call again."""
    for error in (TransportError("dropped"), ServerError("x"), RateLimitedError("x")):
        assert is_retryable(error)
        error.paid_sends = 1
        assert not is_retryable(error)
    never_sent = TransportError("refused")
    never_sent.request_sent = False
    assert is_retryable(never_sent)  # paid_sends == 0: the gateway never saw it
    assert not is_retryable(UnusableAnswerError("no image", request_id="r1"))


def test_reseed_is_deterministic_and_distinct() -> None:
    seeds = [reseed("abc", n) for n in range(1, 5)]
    assert seeds == [reseed("abc", n) for n in range(1, 5)]
    assert len(set(seeds)) == 4 and all(0 <= s < 2**31 for s in seeds)


def test_resolve_mode() -> None:
    assert resolve_mode(sync_request(1), "auto") == "sync"
    assert resolve_mode(async_request(1), "auto") == "async"
    with pytest.raises(ValueError, match="does not support"):
        resolve_mode(async_request(1), "sync")
