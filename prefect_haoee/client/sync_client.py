"""The blocking client: ``with HaoeeClient() as client: client.generate(request)``.

Only I/O lives here: every call is a flow of :class:`~.base_client.ClientBase`, run by
:meth:`HaoeeClient._run` over one ``httpx.Client``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType

import httpx

from prefect_haoee.client.base_client import ClientBase
from prefect_haoee.client.calls import HttpCall
from prefect_haoee.client.download import (
    DEFAULT_MAX_BYTES,
    DownloadedImage,
    download_image,
    new_download_client,
)
from prefect_haoee.client.flow import Driver, Flow, Pause, T, blocking
from prefect_haoee.client.media import DownloadedMedia, MediaSink, MediaType, download_media
from prefect_haoee.client.ratelimit import RateLimiter
from prefect_haoee.client.retry import PollPolicy, RetryPolicy
from prefect_haoee.client.settings import HaoeeSettings
from prefect_haoee.client.transport import (
    map_httpx_errors,
    read_capped,
)


class HaoeeClient(ClientBase):
    """Blocking client for every gateway family (visual ``/volcv/v1`` and the others)."""

    def __init__(
        self,
        settings: HaoeeSettings | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        download_transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        poll: PollPolicy | None = None,
        qps: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(settings, retry, poll)
        self._sleep = sleep
        self._limiter = RateLimiter(qps) if qps else None
        self._http = httpx.Client(transport=transport, **self._http_options())
        self._files = new_download_client(download_transport)

    def __enter__(self) -> HaoeeClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()
        self._files.close()

    def _run(self, flow: Flow[T]) -> T:
        driver = Driver(flow)
        for step in driver:
            if isinstance(step, Pause):
                self._sleep(step.seconds)
                continue
            with driver.answering():
                driver.reply = self._attempt(step.call)
        return driver.result

    def _attempt(self, call: HttpCall) -> httpx.Response:
        if self._limiter is not None:
            self._limiter.acquire()
        with (
            map_httpx_errors(self._scrub),
            self._http.stream(
                call.method,
                call.path,
                params=call.params,
                json=call.json,
                content=call.content,
                headers=call.headers,
            ) as streamed,
        ):
            return read_capped(streamed, self.settings.max_answer_bytes)

    generate = blocking(ClientBase._flow_generate)
    submit = blocking(ClientBase._flow_submit)
    get_result = blocking(ClientBase._flow_get_result)
    wait = blocking(ClientBase._flow_wait)
    generate_images = blocking(ClientBase._flow_generate_images)
    submit_job = blocking(ClientBase._flow_submit_job)
    get_job = blocking(ClientBase._flow_get_job)
    wait_job = blocking(ClientBase._flow_wait_job)
    wait_generation = blocking(ClientBase._flow_wait_generation)

    def download(self, source: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> DownloadedImage:
        """Fetch a result URL (without the API key) or decode inline base64; verify it."""
        with self._scrubbing():
            pace = self.settings.download_pace()
            return download_image(source, client=self._files, max_bytes=max_bytes, pace=pace)

    def download_media(
        self,
        url: str,
        sink: MediaSink,
        kind: MediaType,
        max_bytes: int | None = None,
    ) -> DownloadedMedia:
        """Stream a video/audio file into ``sink`` (capped, content-type and magic checked).

        The key is sent only to the gateway's own origin (sora's ``/content`` link).
        """
        with self._scrubbing():
            return download_media(
                url,
                sink,
                kind,
                max_bytes,
                client=self._files,
                headers=self._gateway_headers(url),
                pace=self.settings.download_pace(kind),
            )
