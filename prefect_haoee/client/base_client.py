"""The one base client: settings, every retry/paid-send decision and every call's flow.

The sync and async clients (:mod:`.sync_client`, :mod:`.async_client`) add only I/O:
they run these flows (:mod:`.flow`) over their httpx client and sleep function. The job
protocol's calls (``generate``, ``submit_job``, ``wait_generation``) take a request or
handle of any API and ask the registry for its adapter (:mod:`.protocol`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, cast

import httpx

from prefect_haoee.client import visual
from prefect_haoee.client.calls import HttpCall
from prefect_haoee.client.errors import (
    AuthenticationError,
    HaoeeError,
    RateLimitedError,
    TaskTimeoutError,
    TransportError,
    UnusableAnswerError,
)
from prefect_haoee.client.families import jobs
from prefect_haoee.client.families.base import FamilyRequest, JobState
from prefect_haoee.client.flow import Flow, Pause, Send
from prefect_haoee.client.handles import JobHandle
from prefect_haoee.client.protocol import AnyRequest, job_adapter
from prefect_haoee.client.redact import Scrubber, make_scrubber, redact_urls
from prefect_haoee.client.registry import family_named
from prefect_haoee.client.requests.base import LogoInfo, VisualRequest
from prefect_haoee.client.responses import Envelope, GeneratedImages, SubmitResult, TaskResult
from prefect_haoee.client.retry import PollPolicy, RetryPolicy
from prefect_haoee.client.settings import HaoeeSettings
from prefect_haoee.client.transport import client_headers, client_limits, client_timeout

logger = logging.getLogger("prefect_haoee.client")

_T = TypeVar("_T")


class ClientBase:
    """Settings, policies, decisions and the flow of every call; no I/O."""

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

    def scrub(self, text: str) -> str:
        """``text`` without the key (whole or in part) or Authorization patterns: for
        anything of the gateway's that is written somewhere (a committed answer)."""
        return self._scrub(text)

    def _http_options(self) -> dict[str, Any]:
        """The gateway client's httpx options (key header, timeouts, pool limits)."""
        return {
            "base_url": self.settings.base_url,
            "headers": client_headers(self.settings),
            "timeout": client_timeout(self.settings),
            "limits": client_limits(self.settings),
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.settings.base_url!r})"

    # -- decisions ------------------------------------------------------------------------

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
        text it took from outside, and its URLs without credentials or signatures: the
        boundary every error of the client passes."""
        error.message = redact_urls(self._scrub(error.message))
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
        logger.warning(
            "%s failed (%s, attempt %d/%d); retrying in %.2fs",
            label,
            error,
            attempt,
            self.retry_policy.max_attempts,
            delay,
        )
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

    @contextmanager
    def _scrubbing(self) -> Iterator[None]:
        """Errors of the block scrubbed: a download error may quote a URL or header."""
        try:
            yield
        except HaoeeError as exc:
            raise self._scrubbed(exc) from None

    def _gateway_headers(self, url: str) -> dict[str, str] | None:
        """The key, for a file served by the gateway itself (sora content); None elsewhere."""
        base = httpx.URL(self.settings.base_url)
        target = httpx.URL(url)
        same = (target.scheme, target.host, target.port) == (base.scheme, base.host, base.port)
        return {"Authorization": self.settings.authorization_header()} if same else None

    def _read(self, call: HttpCall, response: httpx.Response) -> Any:
        """The answer read by the adapter the call belongs to."""
        adapter = family_named(call.family).adapter
        if adapter is None:
            raise ValueError(f"the {call.family} family reads no answers")
        return adapter.read_answer(response, call, self._scrub)

    # -- the one retry loop ---------------------------------------------------------------

    def _flow_send(self, call: HttpCall) -> Flow[Any]:
        """Send ``call`` until it answers: resend RateLimited/Server/Transport errors,
        bounded, with backoff (``Retry-After`` honoured). Every call goes through it."""
        self._require_key()
        attempt = 0
        sent = 0  # attempts that may have reached the gateway
        while True:
            attempt += 1
            started = time.monotonic()
            try:
                response = yield Send(call)
                result = self._read(call, cast(httpx.Response, response))
            except HaoeeError as exc:
                error = exc
            else:
                logger.debug("%s ok in %.3fs", call.label, time.monotonic() - started)
                return result
            sent += self._may_have_reached(error)
            yield Pause(self._give_up_or_wait(call.label, error, attempt, sent, call.paid))

    def _flow_poll(
        self, poll: Callable[[], Flow[tuple[_T | None, object]]], what: str, timeout: float | None
    ) -> Flow[_T]:
        """Run ``poll`` (its result, or None and the status) with growing pauses until it
        has a result; at the deadline raise :class:`TaskTimeoutError`."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.poll_policy.timeout)
        interval: float | None = None
        while True:
            done, status = yield from poll()
            if done is not None:
                return done
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TaskTimeoutError(f"{what} still {status} at the deadline")
            interval = self.poll_policy.next_interval(interval)
            yield Pause(min(interval, remaining))

    # -- the job protocol: any request, any handle -------------------------------------

    def _flow_generate(
        self, request: AnyRequest, *, model_name: str | None = None
    ) -> Flow[GeneratedImages]:
        """Generate synchronously (a paid call): the visual API's ``CVProcess``, a family's
        images call. ``model_name`` overrides the visual API's ``ModelName`` header."""
        adapter = job_adapter(request.family)
        call = adapter.generate_call(request, model_name)
        answer = yield from self._flow_send(call)
        return self._billed(call.label, lambda: adapter.generated(answer))

    def _flow_submit_job(
        self, request: AnyRequest, *, webhook: str | None = None
    ) -> Flow[JobHandle]:
        """Submit an async job of any API (a paid call): visual tasks, images
        ``?async=true``, sora, MiniMax, Kling, suno. ``webhook`` only for images."""
        adapter = job_adapter(request.family)
        call = adapter.job_call(request, webhook=webhook)
        answer = yield from self._flow_send(call)
        return self._billed(call.label, lambda: adapter.submitted(request, answer))

    def _flow_wait_generation(
        self, handle: JobHandle, *, timeout: float | None = None
    ) -> Flow[GeneratedImages]:
        """Poll a job of any API until it is finished (free): its answer, or raise on a
        failed, expired or forgotten job and at the deadline (:class:`TaskTimeoutError`)."""
        adapter = job_adapter(handle.family)

        def poll() -> Flow[tuple[GeneratedImages | None, object]]:
            return (yield from adapter.poll_once(handle, self._flow_send, self.settings.base_url))

        what = f"{handle.family} job {handle.job_id}"
        return (yield from self._flow_poll(poll, what, timeout))

    # -- the Volcengine visual API's own calls -------------------------------------------

    def _flow_submit(
        self, request: VisualRequest, *, model_name: str | None = None
    ) -> Flow[SubmitResult]:
        """Submit an async task (``CVSync2AsyncSubmitTask``): a paid call."""
        env: Envelope = yield from self._flow_send(visual.submit_call(request, model_name))
        return self._billed("submit", lambda: visual.submit_result(request.req_key, env))

    def _flow_get_result(
        self,
        req_key: str,
        task_id: str,
        *,
        return_url: bool = True,
        logo_info: LogoInfo | None = None,
        model_name: str | None = None,
    ) -> Flow[TaskResult]:
        """One poll (``CVSync2AsyncGetResult``); free."""
        call = visual.get_result_call(
            req_key, task_id, return_url=return_url, logo_info=logo_info, model_name=model_name
        )
        return visual.task_result(req_key, task_id, (yield from self._flow_send(call)))

    def _flow_wait(
        self,
        req_key: str,
        task_id: str,
        *,
        timeout: float | None = None,
        return_url: bool = True,
        logo_info: LogoInfo | None = None,
        model_name: str | None = None,
    ) -> Flow[GeneratedImages]:
        """Poll until ``done``; raise on ``not_found``/``expired`` or at the deadline."""

        def poll() -> Flow[tuple[GeneratedImages | None, object]]:
            result = yield from self._flow_get_result(
                req_key, task_id, return_url=return_url, logo_info=logo_info, model_name=model_name
            )
            return visual.finished_images(result), result.status

        return (yield from self._flow_poll(poll, f"task {task_id}", timeout))

    # -- the families' own calls (OpenAI images, sora, MiniMax, Kling, suno) ------------

    def _flow_generate_images(self, request: FamilyRequest) -> Flow[GeneratedImages]:
        """OpenAI-style images, synchronously (``/v1/images/generations`` or ``/edits``): paid.

        Takes an ``ImageGenerationRequest`` or ``ImageEditRequest`` (``generate`` with a
        family request); the answer's URLs or base64 images go to :meth:`download`.
        """
        return (yield from self._flow_generate(request))

    def _flow_get_job(self, handle: JobHandle) -> Flow[JobState]:
        """One poll (free); MiniMax file ids are resolved to download URLs once succeeded."""
        adapter = jobs.adapter_named(handle.family)
        return (yield from adapter.poll_flow(handle, self._flow_send, self.settings.base_url))

    def _flow_wait_job(self, handle: JobHandle, *, timeout: float | None = None) -> Flow[JobState]:
        """Poll until the job succeeds (its state, with file URLs) or raise.

        ``failed`` raises :class:`ContentRejectedError` (moderation) or
        :class:`TaskFailedError`; the deadline raises :class:`TaskTimeoutError`.
        """

        def poll() -> Flow[tuple[JobState | None, object]]:
            state = yield from self._flow_get_job(handle)
            return (jobs.raise_for_job(state) if state.finished else None), state.raw_status

        what = f"{handle.family} job {handle.job_id}"
        return (yield from self._flow_poll(poll, what, timeout))
