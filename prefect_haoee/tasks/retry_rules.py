"""When a Prefect task retry can help, and when it cannot.

The client already resends what a resend can fix (429, 5xx, transport errors) a bounded
number of times. A Prefect retry sits above that for failures that outlast the client's
budget (a gateway overloaded for a minute, S3 briefly unreachable). It never retries what
would fail the same way again: moderation, authentication, invalid requests, bad images.
Output moderation (50511/50519) is handled with a new seed by ``produce_image``, not here.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from prefect.client.schemas.objects import State, TaskRun

from prefect_haoee.client.errors import ContentRejectedError, HaoeeError

PAID_RETRIES = 2
PAID_RETRY_DELAYS: list[float] = [10.0, 60.0]
FREE_RETRIES = 3
FREE_RETRY_DELAYS: list[float] = [2.0, 10.0, 30.0]

_S3_TRANSIENT = (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError)
_S3_RETRY_CODES = {"SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "503"}


def is_retryable(exc: BaseException | None) -> bool:
    """True if running the same task again may succeed."""
    if exc is None:
        return False
    if isinstance(exc, ContentRejectedError):
        return False
    if isinstance(exc, HaoeeError):
        return exc.retryable
    if isinstance(exc, _S3_TRANSIENT):
        return True
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return error.get("Code") in _S3_RETRY_CODES or int(status or 0) >= 500
    return isinstance(exc, (ConnectionError, TimeoutError))


def _exception_of(state: State[Any]) -> BaseException | None:
    data = state.data
    if isinstance(data, BaseException):
        return data
    try:
        result = state.result(raise_on_failure=False)
    except Exception as exc:  # noqa: BLE001 - reading a failed state may itself raise it
        return exc
    return result if isinstance(result, BaseException) else None


def retry_if_retryable(task: Any, task_run: TaskRun, state: State[Any]) -> bool:
    """``retry_condition_fn`` for every haoee task."""
    return is_retryable(_exception_of(state))
