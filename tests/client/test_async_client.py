"""AsyncHaoeeClient: the async twin behaves like the sync client."""

from __future__ import annotations

import json

import httpx
import pytest

from prefect_haoee.client import (
    ContentRejectedError,
    ServerError,
    TaskExpiredError,
)
from tests.client.support import (
    API_KEY,
    Recorder,
    envelope,
    ip_request,
    json_response,
    make_async,
)

IMG = {"image_urls": ["https://files.test/a.png"]}


async def test_generate_submit_and_wait() -> None:
    rec = Recorder(
        [
            json_response(200, envelope(data=IMG)),
            json_response(200, envelope(data={"task_id": "42"})),
            json_response(200, envelope(data={"status": "in_queue"})),
            json_response(200, envelope(data={"status": "generating"})),
            json_response(200, envelope(data={"status": "generating"})),
            json_response(200, envelope(data={"status": "done", **IMG})),
        ]
    )
    client, sleeps = make_async(rec)
    async with client:
        assert (await client.generate(ip_request())).count == 1
        submitted = await client.submit(ip_request())
        images = await client.wait(submitted.req_key, submitted.task_id)
    assert images.urls == IMG["image_urls"]
    assert [r.url.params["Action"] for r in rec.requests] == [
        "CVProcess",
        "CVSync2AsyncSubmitTask",
        *["CVSync2AsyncGetResult"] * 4,
    ]
    assert rec.requests[0].headers["Authorization"] == f"Bearer {API_KEY}"
    assert json.loads(rec.requests[2].content)["task_id"] == "42"
    assert sleeps == [0.5, 1, 1]


async def test_retries_are_bounded_and_honour_retry_after() -> None:
    rec = Recorder(
        [
            json_response(429, envelope(code=50430), {"Retry-After": "2"}),
            json_response(500, envelope(code=50501)),
        ]
    )
    client, sleeps = make_async(rec, max_attempts=3)
    async with client:
        with pytest.raises(ServerError):
            await client.generate(ip_request())
    assert len(rec.requests) == 3
    assert 2.0 <= sleeps[0] <= 2.2  # Retry-After, plus up to 10 % jitter


async def test_moderation_is_not_resent() -> None:
    rec = Recorder([json_response(400, envelope(code=50412, message="Text Risk Not Pass"))])
    client, sleeps = make_async(rec)
    async with client:
        with pytest.raises(ContentRejectedError):
            await client.generate(ip_request())
    assert len(rec.requests) == 1 and sleeps == []


async def test_expired_task() -> None:
    rec = Recorder([json_response(200, envelope(data={"status": "expired"}))])
    client, _ = make_async(rec)
    async with client:
        with pytest.raises(TaskExpiredError):
            await client.wait("high_aes_general_v20", "1")


async def test_transport_error_then_success() -> None:
    rec = Recorder(
        [httpx.RemoteProtocolError("peer closed"), json_response(200, envelope(data=IMG))]
    )
    client, sleeps = make_async(rec)
    async with client:
        await client.generate(ip_request())
    assert len(rec.requests) == 2 and len(sleeps) == 1
