"""Fixes found by the reliability suite, at unit level (httpx.MockTransport).

* A GetResult answer ``data.status == "done"`` with an error code is the task's final
  failure (docs/gateway.md, "The visual API": "done ... success or failure ... stop"):
  the client raises ``TaskFailedError`` at once instead of resending the poll (and a
  Prefect retry re-polling the same dead task 10 s and 60 s later).
* ``request_id`` of an error body is scrubbed of the API key like the message.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from prefect_haoee.client import (
    AsyncHaoeeClient,
    ContentRejectedError,
    HaoeeClient,
    ServerError,
    TaskFailedError,
)
from tests.client.support import API_KEY, settings


def _answer(code: int, status: int, data: Any, request_id: str = "20260101ABC") -> httpx.Response:
    body = {"code": code, "message": "task failed", "request_id": request_id, "data": data}
    return httpx.Response(status, content=json.dumps(body).encode())


class Counting:
    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        return httpx.Response(
            self.response.status_code, content=self.response.content, request=request
        )


def _sync(handler: Counting) -> HaoeeClient:
    return HaoeeClient(
        settings(backoff_base=0.0, backoff_max=0.0), transport=httpx.MockTransport(handler)
    )


def test_a_failed_task_is_final_and_not_polled_again() -> None:
    handler = Counting(_answer(50501, 500, {"status": "done", "image_urls": None}))
    with _sync(handler) as client, pytest.raises(TaskFailedError) as caught:
        client.wait("high_aes_general_v20", "123", timeout=5)
    assert handler.calls == 1
    err = caught.value
    assert (err.code, err.http_status, err.retryable) == (50501, 500, False)
    assert "async task failed" in str(err)


def test_async_client_agrees() -> None:
    handler = Counting(_answer(50500, 500, {"status": "done"}))

    async def run() -> None:
        client = AsyncHaoeeClient(
            settings(backoff_base=0.0, backoff_max=0.0), transport=httpx.MockTransport(handler)
        )
        async with client:
            await client.wait("high_aes_general_v20", "123", timeout=5)

    with pytest.raises(TaskFailedError):
        asyncio.run(run())
    assert handler.calls == 1


def test_output_moderation_of_a_task_stays_content_rejected() -> None:
    handler = Counting(_answer(50511, 400, {"status": "done"}))
    with _sync(handler) as client, pytest.raises(ContentRejectedError) as caught:
        client.wait("high_aes_general_v20", "123", timeout=5)
    assert caught.value.retryable and handler.calls == 1  # a new seed, never a resend


def test_a_poll_that_itself_failed_is_still_resent() -> None:
    handler = Counting(_answer(50500, 500, None))
    with _sync(handler) as client, pytest.raises(ServerError) as caught:
        client.get_result("high_aes_general_v20", "123")
    assert not isinstance(caught.value, TaskFailedError)
    assert handler.calls == 4  # max_attempts


def test_request_id_of_an_error_is_scrubbed() -> None:
    handler = Counting(_answer(50200, 400, None, request_id=f"echo Bearer {API_KEY}"))
    with _sync(handler) as client, pytest.raises(Exception) as caught:
        client.get_result("high_aes_general_v20", "123")
    assert API_KEY not in str(caught.value) and API_KEY not in repr(caught.value)
    assert caught.value.request_id == "echo Bearer ***"  # type: ignore[attr-defined]
