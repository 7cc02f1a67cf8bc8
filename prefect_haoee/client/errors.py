"""The client's error tree.

Every failure the client raises is a :class:`HaoeeError`. Each carries ``retryable``
(would the same call, made again, plausibly succeed?), the gateway ``code``, the
``http_status`` and the gateway ``request_id``. No error ever holds the API key: messages
are built from the gateway's answer, which never echoes it, and are scrubbed anyway.
"""

from __future__ import annotations

from typing import ClassVar

SUCCESS_CODE = 10000

# Moderation codes a new seed can pass (the output was flagged, not the input).
OUTPUT_MODERATION_CODES = frozenset({50511, 50519})
CONTENT_REJECTED_CODES = frozenset(
    {50411, 50412, 50413, 50511, 50512, 50518, 50519, 50520, 50521, 50522, 60102, 60208}
)
RATE_LIMIT_CODES = frozenset({50429, 50430})
SERVER_CODES = frozenset({50500, 50501})
AUTH_CODES = frozenset({50400})


class HaoeeError(Exception):
    """Base of every error the client raises."""

    retryable: ClassVar[bool] = False

    paid_sends: int = 0
    """How often the client sent this *paid* call where the gateway may have seen it (every
    attempt but connect errors) before it gave up; 0 for a free call or one never sent.
    Above 0, the client has spent the call's ``HAOEE_MAX_ATTEMPTS`` budget (or the resend
    setting stopped it): a Prefect task retry must not send it again (``tasks.retry_rules``)."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        http_status: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status
        self.request_id = request_id

    def __str__(self) -> str:
        parts = [self.message]
        if self.code is not None:
            parts.append(f"code={self.code}")
        if self.http_status is not None:
            parts.append(f"http={self.http_status}")
        if self.request_id:
            parts.append(f"request_id={self.request_id}")
        return " ".join(parts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def __reduce__(self) -> tuple[object, ...]:
        # Keep keyword attributes through pickling (Prefect persists exceptions in states).
        return (
            _rebuild_error,
            (type(self), self.message, self.code, self.http_status, self.request_id),
            self.__dict__,
        )


def _rebuild_error(
    cls: type[HaoeeError],
    message: str,
    code: int | None,
    http_status: int | None,
    request_id: str | None,
) -> HaoeeError:
    err = cls.__new__(cls)
    HaoeeError.__init__(err, message, code=code, http_status=http_status, request_id=request_id)
    return err


class AuthenticationError(HaoeeError):
    """The gateway refused the API key (HTTP 401/403 or code 50400)."""


class InvalidRequestError(HaoeeError):
    """The request is malformed or violates a documented limit (502xx, other 4xx)."""


class RateLimitedError(HaoeeError):
    """QPS or concurrency cap hit (50429/50430, HTTP 429)."""

    retryable = True

    retry_after: float | None = None
    """Seconds the gateway asked us to wait (``Retry-After``), if it said."""


class ServerError(HaoeeError):
    """The gateway or the model failed (HTTP 5xx, 50500/50501)."""

    retryable = True


class TransportError(HaoeeError):
    """No usable answer: timeout, reset, DNS, a body that is not the gateway's JSON."""

    retryable = True
    request_sent: bool = True
    """False when the request never reached the gateway (connect errors): always safe to
    resend. True when it may have been processed (read timeout, dropped answer): a paid
    call may then have been billed."""


class UnusableAnswerError(TransportError):
    """A paid call answered success (billed) but without what it must hold: a sync call
    without an image, a submission without a task id.

    Never resent, by the client or a task retry: the gateway has billed it, and the same
    request would be billed again. The item fails once, naming the gateway's ``request_id``
    for a human to take up with the gateway.
    """

    retryable = False


class ContentRejectedError(HaoeeError):
    """Moderation refused the input or the output.

    Only output moderation (50511, 50519) is retryable, and only with a new seed.
    """

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        return self.code in OUTPUT_MODERATION_CODES


class TaskNotFoundError(HaoeeError):
    """An async task id is unknown to the gateway (never submitted, or older than 12 h)."""


class TaskExpiredError(TaskNotFoundError):
    """An async task expired: resubmit it."""


class TaskFailedError(HaoeeError):
    """An async task finished (``data.status == "done"``) with a failure code.

    Polling the same task id again answers the same failure, so neither the client nor a
    task retry resends it: only a new submission can produce the image. (A task refused by
    output moderation, 50511/50519, stays a :class:`ContentRejectedError`: a new seed.)
    """


class TaskTimeoutError(HaoeeError):
    """Polling reached its deadline while the task was still queued or generating."""

    retryable = True


class DownloadError(HaoeeError):
    """A result file could not be fetched or is not a valid image."""


def error_for(
    *,
    http_status: int | None,
    code: int | None,
    message: str,
    request_id: str | None = None,
    retry_after: float | None = None,
) -> HaoeeError:
    """Map a gateway answer (HTTP status + business code) to the right error class."""
    cls: type[HaoeeError]
    if code in RATE_LIMIT_CODES or http_status == 429:
        cls = RateLimitedError
    elif code in CONTENT_REJECTED_CODES:
        cls = ContentRejectedError
    elif code in AUTH_CODES or http_status in (401, 403):
        cls = AuthenticationError
    elif code in SERVER_CODES or (http_status is not None and http_status >= 500):
        cls = ServerError
    else:
        cls = InvalidRequestError
    return make_error(
        cls,
        message,
        code=code,
        http_status=http_status,
        request_id=request_id,
        retry_after=retry_after,
    )


def make_error(
    cls: type[HaoeeError],
    message: str,
    *,
    code: int | None,
    http_status: int | None,
    request_id: str | None,
    retry_after: float | None,
) -> HaoeeError:
    """An error of ``cls``; a rate limit keeps the ``Retry-After`` the gateway asked for."""
    error = cls(message, code=code, http_status=http_status, request_id=request_id)
    if isinstance(error, RateLimitedError):
        error.retry_after = retry_after
    return error
