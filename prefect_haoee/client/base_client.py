"""What the sync and async clients share: configuration and reading answers."""

from __future__ import annotations

import logging

import httpx

from prefect_haoee.client.errors import (
    AuthenticationError,
    HaoeeError,
    TaskExpiredError,
    TaskNotFoundError,
    TransportError,
)
from prefect_haoee.client.protocol import Call
from prefect_haoee.client.responses import (
    Envelope,
    GeneratedImages,
    SubmitResult,
    TaskResult,
)
from prefect_haoee.client.retry import PollPolicy, RetryPolicy
from prefect_haoee.client.settings import HaoeeSettings

logger = logging.getLogger("prefect_haoee.client")


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
        )
        self.poll_policy = poll or PollPolicy()
        self._secret = self.settings.api_key.get_secret_value()

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
        if not self._secret.strip():
            raise AuthenticationError(
                "no API key: set HAOEE_API_KEY or pass a HaoeeCredentials block"
            )

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
