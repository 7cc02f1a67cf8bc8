"""When a Prefect task retry can help, and when it cannot.

The client already resends what a resend can fix (429, 5xx, transport errors), at most
``HAOEE_MAX_ATTEMPTS`` times per call. A Prefect retry sits above that only for what the
client never tried or does not cover: a paid call that never reached the gateway (connect
errors on every attempt: the gateway unreachable for a moment), free calls (polling,
downloads: re-running the item resumes from its committed paid step, so it pays nothing),
S3 briefly unreachable, a lost worker.

It never resends a paid call the client has given up on. Rule, over both layers: a paid
request is sent at most ``HAOEE_MAX_ATTEMPTS`` times in one run. So an error that carries
``paid_sends > 0`` (the client spent its budget on a paid call, or the resend setting
``HAOEE_RESEND_UNANSWERED_PAID_CALLS=false`` stopped it after one unanswered send) is final
for the run, as is an :class:`~prefect_haoee.client.errors.UnusableAnswerError` (a success
answer, billed, without an image or task id: a human looks at its request id). The budget
is not shared across task runs; the next *run* of the campaign (a new flow run) gets a new
one. Nor does it retry what would fail the same way again: moderation, authentication,
invalid requests, bad images. Output moderation (50511/50519) is handled with a new seed by
``produce_image``, not here.

Task retry delays get ``RETRY_JITTER`` (Prefect's ``retry_jitter_factor``), so items that
failed together do not come back together.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from prefect import Task, task
from prefect.client.schemas.objects import State, TaskRun

from prefect_haoee.client.errors import ContentRejectedError, HaoeeError

P = ParamSpec("P")
R = TypeVar("R")

PAID_RETRIES = 2
PAID_RETRY_DELAYS: list[float] = [10.0, 60.0]
FREE_RETRIES = 3
FREE_RETRY_DELAYS: list[float] = [2.0, 10.0, 30.0]
RETRY_JITTER = 0.5
"""``retry_jitter_factor`` of every haoee task: a delay of d waits up to 1.5 d."""

_S3_TRANSIENT = (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError)
_S3_RETRY_CODES = {"SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "503"}


def is_retryable(exc: BaseException | None) -> bool:
    """True if running the same task again may succeed."""
    if exc is None:
        return False
    if isinstance(exc, ContentRejectedError):
        return False
    if isinstance(exc, HaoeeError):
        # A paid call the gateway may have seen: the client's budget is spent (see above).
        return exc.retryable and exc.paid_sends == 0
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


def haoee_task(
    name: str, run_name: Any, *, paid: bool, tags: tuple[str, ...] = ("haoee",), **options: Any
) -> Callable[[Callable[P, R]], Task[P, R]]:
    """The ``@task`` of this package: retried only as :func:`is_retryable` allows, with
    jitter; a paid call (few retries, late) or a free one (more, sooner)."""
    return task(
        name=name,
        task_run_name=run_name,
        retries=PAID_RETRIES if paid else FREE_RETRIES,
        retry_delay_seconds=PAID_RETRY_DELAYS if paid else FREE_RETRY_DELAYS,
        retry_jitter_factor=RETRY_JITTER,
        retry_condition_fn=retry_if_retryable,
        tags=list(tags),
        **options,
    )
