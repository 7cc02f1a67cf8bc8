"""Builders for client unit tests: envelopes, a recording MockTransport, a request."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
from pydantic import SecretStr

from prefect_haoee.client import AsyncHaoeeClient, HaoeeClient, HaoeeSettings, PollPolicy
from prefect_haoee.client.errors import (
    AuthenticationError,
    ContentRejectedError,
    HaoeeError,
    InvalidRequestError,
    RateLimitedError,
    ServerError,
)
from prefect_haoee.client.requests import parse_request
from prefect_haoee.client.requests.base import VisualRequest

API_KEY = "sk-test-0123456789abcdef"

# (http status, code) -> (class, retryable), from docs/gateway.md, "Error codes".
CODE_TABLE: list[tuple[int, int | None, type[HaoeeError], bool]] = [
    (400, 50411, ContentRejectedError, False),
    (400, 50511, ContentRejectedError, True),
    (400, 50412, ContentRejectedError, False),
    (400, 50512, ContentRejectedError, False),
    (400, 50413, ContentRejectedError, False),
    (400, 50518, ContentRejectedError, False),
    (400, 50519, ContentRejectedError, True),
    (400, 50520, ContentRejectedError, False),
    (400, 50521, ContentRejectedError, False),
    (400, 50522, ContentRejectedError, False),
    (429, 50429, RateLimitedError, True),
    (429, 50430, RateLimitedError, True),
    (500, 50500, ServerError, True),
    (500, 50501, ServerError, True),
    (400, 50200, InvalidRequestError, False),
    (400, 50201, InvalidRequestError, False),
    (400, 50204, InvalidRequestError, False),
    (400, 50205, InvalidRequestError, False),
    (400, 50206, InvalidRequestError, False),
    (400, 50207, InvalidRequestError, False),
    (400, 50213, InvalidRequestError, False),
    (400, 50215, InvalidRequestError, False),
    (400, 60102, ContentRejectedError, False),
    (400, 60208, ContentRejectedError, False),
    (401, 50400, AuthenticationError, False),
    (404, 50402, InvalidRequestError, False),
    (401, None, AuthenticationError, False),
    (403, None, AuthenticationError, False),
    (502, None, ServerError, True),
    (422, None, InvalidRequestError, False),
]


def settings(**kw: Any) -> HaoeeSettings:
    base: dict[str, Any] = {
        "api_key": SecretStr(API_KEY),
        "base_url": "https://gateway.test",
        "max_attempts": 4,
        "backoff_base": 0.5,
        "backoff_max": 4.0,
    }
    base.update(kw)
    return HaoeeSettings(**base)


def ip_request(**kw: Any) -> VisualRequest:
    body: dict[str, Any] = {
        "req_key": "high_aes_ip_v20",
        "image_urls": ["https://example.com/ref.jpg"],
        "prompt": "a hiker at sunrise",
        "seed": 42,
    }
    body.update(kw)
    return parse_request(body)


def envelope(code: int = 10000, data: Any = None, message: str = "Success") -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "status": code,
        "request_id": "20250403151503DD53B34623F59CF8B86D",
        "time_elapsed": "104.852309ms",
        "data": data,
    }


def json_response(
    status: int, payload: Any, headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(payload).encode(), headers=headers or {})


Answer = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A MockTransport handler that answers from a script and records every request."""

    def __init__(
        self, answers: list[httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]]
    ):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer) and not isinstance(answer, httpx.Response):
            return answer(request)
        return answer

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]


class Sleeps(list[float]):
    """Records the sleeps a client asks for instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)

    async def asleep(self, seconds: float) -> None:
        self.append(seconds)


def make(rec: Recorder, **kw: Any) -> tuple[HaoeeClient, Sleeps]:
    """A sync client with ``settings(**kw)`` answered by ``rec``; its sleeps recorded, not
    slept."""
    sleeps = Sleeps()
    client = HaoeeClient(settings(**kw), transport=httpx.MockTransport(rec), sleep=sleeps)
    return client, sleeps


def make_async(rec: Recorder, **kw: Any) -> tuple[AsyncHaoeeClient, Sleeps]:
    """The async twin of ``make``, polling from 0.5 s up to 1 s (a minute at most)."""
    sleeps = Sleeps()
    client = AsyncHaoeeClient(
        settings(**kw),
        transport=httpx.MockTransport(rec),
        sleep=sleeps.asleep,
        poll=PollPolicy(initial_interval=0.5, factor=2, max_interval=1, timeout=60),
    )
    return client, sleeps
