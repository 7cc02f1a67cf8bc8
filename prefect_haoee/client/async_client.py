"""The asyncio client: ``async with AsyncHaoeeClient() as client: await client.generate(r)``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, TypeVar

import httpx

from prefect_haoee.client.base_client import ClientBase, logger
from prefect_haoee.client.download import (
    DEFAULT_MAX_BYTES,
    DownloadedImage,
    adownload_image,
    new_async_download_client,
)
from prefect_haoee.client.errors import HaoeeError, TaskTimeoutError
from prefect_haoee.client.families import jobs
from prefect_haoee.client.families.base import FamilyRequest, HttpCall, JobHandle, JobState
from prefect_haoee.client.media import DownloadedMedia, MediaSink, MediaType, adownload_media
from prefect_haoee.client.protocol import (
    PAID_ACTIONS,
    VISUAL_PATH,
    Call,
    aread_capped,
    client_headers,
    client_limits,
    client_timeout,
    get_result_call,
    parse_envelope,
    process_call,
    submit_call,
    transport_error,
)
from prefect_haoee.client.ratelimit import AsyncLimiter, RateLimiter
from prefect_haoee.client.requests.base import LogoInfo, VisualRequest
from prefect_haoee.client.responses import Envelope, GeneratedImages, SubmitResult, TaskResult
from prefect_haoee.client.retry import PollPolicy, RetryPolicy
from prefect_haoee.client.settings import HaoeeSettings

_T = TypeVar("_T")


class AsyncHaoeeClient(ClientBase):
    """Asyncio client for the Volcengine visual family (``POST /volcv/v1``)."""

    def __init__(
        self,
        settings: HaoeeSettings | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        download_transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        poll: PollPolicy | None = None,
        qps: float | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        limiter: AsyncLimiter | None = None,
    ) -> None:
        super().__init__(settings, retry, poll)
        self._sleep = sleep
        self._limiter = RateLimiter(qps) if qps else None
        self._shared_limiter = limiter
        self._http = httpx.AsyncClient(
            base_url=self.settings.base_url,
            headers=client_headers(self.settings),
            timeout=client_timeout(self.settings),
            limits=client_limits(self.settings),
            transport=transport,
        )
        self._files = new_async_download_client(download_transport)

    async def __aenter__(self) -> AsyncHaoeeClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()
        await self._files.aclose()

    async def _with_retries(
        self, label: str, attempt_once: Callable[[], Awaitable[_T]], paid: bool = False
    ) -> _T:
        """The one retry loop: resend RateLimited/Server/Transport errors, bounded, with
        backoff (``Retry-After`` honoured). Every call, visual or family, goes through it."""
        self._require_key()
        attempt = 0
        sent = 0  # attempts that may have reached the gateway
        while True:
            attempt += 1
            if self._limiter is not None:
                await self._limiter.aacquire()
            if self._shared_limiter is not None:
                await self._shared_limiter.aacquire()
            started = time.monotonic()
            try:
                result = await attempt_once()
            except httpx.HTTPError as exc:
                error: HaoeeError = transport_error(exc, self._scrub)
            except HaoeeError as exc:
                error = exc
            else:
                logger.debug("%s ok in %.3fs", label, time.monotonic() - started)
                return result
            sent += self._may_have_reached(error)
            await self._sleep(self._give_up_or_wait(label, error, attempt, sent, paid))

    async def _send(self, call: Call) -> Envelope:
        async def once() -> Envelope:
            async with self._http.stream(
                "POST", VISUAL_PATH, params=call.params, headers=call.headers, json=call.body
            ) as streamed:
                response = await aread_capped(streamed, self.settings.max_answer_bytes)
            return parse_envelope(response, self._scrub)

        label = f"{call.action} {call.body.get('req_key')}"
        return await self._with_retries(label, once, paid=call.action in PAID_ACTIONS)

    async def _send_http(self, call: HttpCall, paid: bool = False) -> Any:
        """One family call through the shared retry loop; the answer's JSON."""

        async def once() -> Any:
            async with self._http.stream(
                call.method,
                call.path,
                params=call.params,
                json=call.json,
                content=call.content,
                headers=call.headers,
            ) as streamed:
                response = await aread_capped(streamed, self.settings.max_answer_bytes)
            return jobs.read_payload(response, call, self._scrub)

        return await self._with_retries(call.label, once, paid=paid)

    async def generate(
        self, request: VisualRequest, *, model_name: str | None = None
    ) -> GeneratedImages:
        """Synchronous generation (``CVProcess``): a paid call."""
        env = await self._send(process_call(request, model_name))
        return self._billed("CVProcess", lambda: self._images_or_raise(env))

    async def submit(
        self, request: VisualRequest, *, model_name: str | None = None
    ) -> SubmitResult:
        """Submit an async task (``CVSync2AsyncSubmitTask``): a paid call."""
        env = await self._send(submit_call(request, model_name))
        return self._billed("submit", lambda: self._submit_result(request.req_key, env))

    async def get_result(
        self,
        req_key: str,
        task_id: str,
        *,
        return_url: bool = True,
        logo_info: LogoInfo | None = None,
        model_name: str | None = None,
    ) -> TaskResult:
        """One poll (``CVSync2AsyncGetResult``); free."""
        call = get_result_call(
            req_key, task_id, return_url=return_url, logo_info=logo_info, model_name=model_name
        )
        return self._task_result(req_key, task_id, await self._send(call))

    async def wait(
        self,
        req_key: str,
        task_id: str,
        *,
        timeout: float | None = None,
        return_url: bool = True,
        logo_info: LogoInfo | None = None,
        model_name: str | None = None,
    ) -> GeneratedImages:
        """Poll until ``done``; raise on ``not_found``/``expired`` or at the deadline."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.poll_policy.timeout)
        interval: float | None = None
        while True:
            result = await self.get_result(
                req_key,
                task_id,
                return_url=return_url,
                logo_info=logo_info,
                model_name=model_name,
            )
            images = self._finished_images(result)
            if images is not None:
                return images
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TaskTimeoutError(f"task {task_id} still {result.status} at the deadline")
            interval = self.poll_policy.next_interval(interval)
            await self._sleep(min(interval, remaining))

    async def download(self, source: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> DownloadedImage:
        """Fetch a result URL (without the API key) or decode inline base64; verify it."""
        try:
            return await adownload_image(source, client=self._files, max_bytes=max_bytes)
        except HaoeeError as exc:  # its text may quote a URL or header from outside
            raise self._scrubbed(exc) from None

    # -- other families (OpenAI images, sora, MiniMax, Kling, suno) ---------------------

    async def generate_images(self, request: FamilyRequest) -> GeneratedImages:
        """OpenAI-style images, synchronously (``/v1/images/generations`` or ``/edits``): paid."""
        payload = await self._send_http(jobs.images_call(request), paid=True)
        return self._billed("images", lambda: jobs.images_answer(payload))

    async def submit_job(self, request: FamilyRequest, *, webhook: str | None = None) -> JobHandle:
        """Submit an async job of any family (a paid call). ``webhook`` only for images."""
        call = jobs.submit_call(request, webhook=webhook)
        payload = await self._send_http(call, paid=True)
        return self._billed(call.label, lambda: jobs.job_handle(request, payload))

    async def get_job(self, handle: JobHandle) -> JobState:
        """One poll (free); MiniMax file ids are resolved to download URLs once succeeded."""
        payload = await self._send_http(jobs.poll_call(handle))
        state = jobs.job_state(handle, payload, self.settings.base_url)
        if jobs.needs_file_lookup(state):
            urls = [
                jobs.file_url(handle, await self._send_http(jobs.file_call(handle, file_id)))
                for file_id in state.file_ids
            ]
            state = state.model_copy(update={"file_urls": urls})
        return state

    async def wait_job(self, handle: JobHandle, *, timeout: float | None = None) -> JobState:
        """Poll until the job succeeds (its state, with file URLs) or raise (see the sync twin)."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.poll_policy.timeout)
        interval: float | None = None
        while True:
            state = await self.get_job(handle)
            if state.finished:
                return jobs.raise_for_job(state)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TaskTimeoutError(
                    f"{handle.family} job {handle.job_id} still {state.raw_status} at the deadline"
                )
            interval = self.poll_policy.next_interval(interval)
            await self._sleep(min(interval, remaining))

    async def download_media(
        self,
        url: str,
        sink: MediaSink,
        kind: MediaType,
        max_bytes: int | None = None,
    ) -> DownloadedMedia:
        """Stream a video/audio file into ``sink`` (capped, content-type and magic checked)."""
        try:
            return await adownload_media(
                url, sink, kind, max_bytes, client=self._files, headers=self._gateway_headers(url)
            )
        except HaoeeError as exc:  # its text may quote a URL or header from outside
            raise self._scrubbed(exc) from None
