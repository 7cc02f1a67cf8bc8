"""What the sync and async clients share: configuration and reading answers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

import httpx

from prefect_haoee.client.errors import (
    AuthenticationError,
    HaoeeError,
    RateLimitedError,
    TaskExpiredError,
    TaskNotFoundError,
    TransportError,
    UnusableAnswerError,
)
from prefect_haoee.client.protocol import Call
from prefect_haoee.client.redact import Scrubber, make_scrubber
from prefect_haoee.client.responses import (
    Envelope,
    GeneratedImages,
    SubmitResult,
    TaskResult,
)
from prefect_haoee.client.retry import PollPolicy, RetryPolicy
from prefect_haoee.client.settings import HaoeeSettings

logger = logging.getLogger("prefect_haoee.client")

_T = TypeVar("_T")


class ClientBase:
    """Settings, policies and answer interpretation; no I/O."""

    def __init__(
        self,
        settings: HaoeeSettings | None,
        retry: RetryPolicy | None,
        poll: PollPolicy | None,
    ) -> None:
        self.settings = settings or HaoeeSettings()
        self.retry_policy = retry or RetryPolicy(
            max_attempts=self.settings.max_attempts,
            backoff_base=self.settings.backoff_base,
            backoff_max=self.settings.backoff_max,
            retry_after_max=self.settings.retry_after_max,
            retry_after_limit=self.settings.retry_after_limit,
        )
        self.poll_policy = poll or PollPolicy()
        # The key lives in the settings' SecretStr and inside this closure: never in vars().
        self._scrub: Scrubber = make_scrubber(self.settings.api_key.get_secret_value())

    def _unanswered_paid(self, error: HaoeeError, paid: bool) -> bool:
        """True when a paid call's request reached the gateway but no answer came back, and
        the settings forbid resending it: the gateway may have billed it, and it has no
        idempotency key, so a resend could pay twice."""
        return (
            paid
            and isinstance(error, TransportError)
            and error.request_sent
            and not self.settings.resend_unanswered_paid_calls
        )

    def _require_key(self) -> None:
        if not self.settings.api_key.get_secret_value().strip():
            raise AuthenticationError(
                "no API key: set HAOEE_API_KEY or pass a HaoeeCredentials block"
            )

    def _scrubbed(self, error: HaoeeError) -> HaoeeError:
        """``error`` with the key (and Authorization/Bearer patterns) scrubbed from every
        text it took from outside: the boundary every error of the client passes."""
        error.message = self._scrub(error.message)
        error.args = (error.message,)
        if error.request_id is not None:
            error.request_id = self._scrub(error.request_id)[:128]
        return error

    def _give_up_or_wait(
        self, label: str, error: HaoeeError, attempt: int, sent: int, paid: bool
    ) -> float:
        """After a failed attempt: the wait before resending, or raise ``error`` (scrubbed;
        for a paid call marked with ``paid_sends``, so that no task retry resends it)."""
        error = self._scrubbed(error)
        if paid:
            error.paid_sends = sent
        if isinstance(error, RateLimitedError) and self.retry_policy.waits_too_long(error):
            error.message += (
                f" (Retry-After {error.retry_after:.0f}s is over the "
                f"{self.retry_policy.retry_after_limit:.0f}s limit: not waiting)"
            )
            error.args = (error.message,)
            if paid:  # no task retry either: the gateway asked for a wait we do not make
                error.paid_sends = max(sent, 1)
            raise error
        if not self.retry_policy.should_retry(error, attempt) or self._unanswered_paid(error, paid):
            raise error
        delay = self.retry_policy.delay(error, attempt)
        self._log_retry_as(label, error, attempt, delay)
        return delay

    @staticmethod
    def _may_have_reached(error: HaoeeError) -> bool:
        """Whether this attempt may have been billed: False for one that certainly never
        reached the gateway, and for a 429 answer (a refusal: nothing was generated)."""
        if isinstance(error, RateLimitedError):
            return False
        return not (isinstance(error, TransportError) and not error.request_sent)

    def _billed(self, label: str, read: Callable[[], _T]) -> _T:
        """Read a paid call's success answer; an unusable one (no image, no task id) is an
        :class:`UnusableAnswerError`: billed, so never resent by anyone."""
        try:
            return read()
        except TransportError as exc:
            error = UnusableAnswerError(
                f"{label} answered success (billed) but unusable: {exc.message}; not resent:"
                " ask the gateway about this request id",
                http_status=exc.http_status,
                request_id=exc.request_id,
            )
            error.paid_sends = 1
            raise self._scrubbed(error) from None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.settings.base_url!r})"

    def _log_retry(self, call: Call, error: HaoeeError, attempt: int, delay: float) -> None:
        self._log_retry_as(f"{call.action} {call.body.get('req_key')}", error, attempt, delay)

    def _log_retry_as(self, label: str, error: HaoeeError, attempt: int, delay: float) -> None:
        logger.warning(
            "%s failed (%s, attempt %d/%d); retrying in %.2fs",
            label,
            error,
            attempt,
            self.retry_policy.max_attempts,
            delay,
        )

    def _gateway_headers(self, url: str) -> dict[str, str] | None:
        """The key, for a file served by the gateway itself (sora content); None elsewhere."""
        base = httpx.URL(self.settings.base_url)
        target = httpx.URL(url)
        same = (target.scheme, target.host, target.port) == (base.scheme, base.host, base.port)
        return {"Authorization": self.settings.authorization_header()} if same else None

    @staticmethod
    def _submit_result(req_key: str, env: Envelope) -> SubmitResult:
        task_id = (env.data or {}).get("task_id")
        if not task_id:
            raise TransportError(
                "submit succeeded without a task_id in data", request_id=env.request_id
            )
        return SubmitResult(req_key=req_key, task_id=str(task_id), request_id=env.request_id)

    @staticmethod
    def _task_result(req_key: str, task_id: str, env: Envelope) -> TaskResult:
        data = env.data or {}
        status = data.get("status")
        if status not in ("in_queue", "generating", "done", "not_found", "expired"):
            raise TransportError(
                f"GetResult answered an unknown task status {status!r}",
                request_id=env.request_id,
            )
        images = GeneratedImages.from_envelope(env) if status == "done" else None
        return TaskResult(
            req_key=req_key,
            task_id=task_id,
            status=status,
            images=images,
            request_id=env.request_id,
        )

    @staticmethod
    def _finished_images(result: TaskResult) -> GeneratedImages | None:
        """The images of a finished task, None while it runs; raise if it is gone."""
        if result.status == "done":
            if result.images is None or result.images.count == 0:
                raise TransportError(
                    f"task {result.task_id} is done but returned no image",
                    request_id=result.request_id,
                )
            return result.images
        if result.status == "expired":
            raise TaskExpiredError(
                f"task {result.task_id} expired; resubmit it", request_id=result.request_id
            )
        if result.status == "not_found":
            raise TaskNotFoundError(
                f"task {result.task_id} not found (unknown or older than 12 h)",
                request_id=result.request_id,
            )
        return None

    @staticmethod
    def _images_or_raise(env: Envelope) -> GeneratedImages:
        images = GeneratedImages.from_envelope(env)
        if images.count == 0:
            raise TransportError("CVProcess succeeded without an image", request_id=env.request_id)
        return images
