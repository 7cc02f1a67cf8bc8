"""The asyncio client: ``async with AsyncHaoeeClient() as client: await client.generate(r)``.

Every call is a flow of the base client, awaited here by
:meth:`AsyncHaoeeClient._arun` over one ``httpx.AsyncClient``: this file holds only I/O.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import TracebackType

import httpx

from prefect_haoee.client.base_client import ClientBase
from prefect_haoee.client.calls import HttpCall
from prefect_haoee.client.download import (
    DEFAULT_MAX_BYTES,
    DownloadedImage,
    adownload_image,
    new_async_download_client,
)
from prefect_haoee.client.flow import Driver, Flow, Pause, T, awaitable
from prefect_haoee.client.media import DownloadedMedia, MediaSink, MediaType, adownload_media
from prefect_haoee.client.ratelimit import AsyncLimiter, RateLimiter
from prefect_haoee.client.retry import PollPolicy, RetryPolicy
from prefect_haoee.client.settings import HaoeeSettings
from prefect_haoee.client.transport import (
    aread_capped,
    map_httpx_errors,
)


class AsyncHaoeeClient(ClientBase):
    """Asyncio client for every gateway family (visual ``/volcv/v1`` and the others)."""

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
        self._limiters = [x for x in (RateLimiter(qps) if qps else None, limiter) if x is not None]
        self._http = httpx.AsyncClient(transport=transport, **self._http_options())
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

    async def _arun(self, flow: Flow[T]) -> T:
        driver = Driver(flow)
        for step in driver:
            if isinstance(step, Pause):
                await self._sleep(step.seconds)
                continue
            with driver.answering():
                driver.reply = await self._attempt(step.call)
        return driver.result

    async def _attempt(self, call: HttpCall) -> httpx.Response:
        for limiter in self._limiters:
            await limiter.aacquire()
        with map_httpx_errors(self._scrub):
            async with self._http.stream(
                call.method,
                call.path,
                params=call.params,
                json=call.json,
                content=call.content,
                headers=call.headers,
            ) as streamed:
                return await aread_capped(streamed, self.settings.max_answer_bytes)

    generate = awaitable(ClientBase._flow_generate)
    submit = awaitable(ClientBase._flow_submit)
    get_result = awaitable(ClientBase._flow_get_result)
    wait = awaitable(ClientBase._flow_wait)
    generate_images = awaitable(ClientBase._flow_generate_images)
    submit_job = awaitable(ClientBase._flow_submit_job)
    get_job = awaitable(ClientBase._flow_get_job)
    wait_job = awaitable(ClientBase._flow_wait_job)
    wait_generation = awaitable(ClientBase._flow_wait_generation)

    async def download(self, source: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> DownloadedImage:
        """Fetch a result URL (without the API key) or decode inline base64; verify it."""
        with self._scrubbing():
            pace = self.settings.download_pace()
            return await adownload_image(source, client=self._files, max_bytes=max_bytes, pace=pace)

    async def download_media(
        self,
        url: str,
        sink: MediaSink,
        kind: MediaType,
        max_bytes: int | None = None,
    ) -> DownloadedMedia:
        """Stream a video/audio file into ``sink`` (capped, content-type and magic checked)."""
        with self._scrubbing():
            return await adownload_media(
                url,
                sink,
                kind,
                max_bytes,
                client=self._files,
                headers=self._gateway_headers(url),
                pace=self.settings.download_pace(kind),
            )
