"""The transport boundary: httpx settings, capped reading, and httpx errors mapped once.

``map_httpx_errors`` is to this client what httpx's ``map_httpcore_exceptions`` is to
httpx: every exchange with the gateway runs inside it, so no other module catches an
httpx exception.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from prefect_haoee.client.errors import TransportError, UnusableAnswerError
from prefect_haoee.client.redact import Scrubber, redact_urls
from prefect_haoee.client.settings import HaoeeSettings

# httpx errors raised before the request could reach the gateway.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def client_headers(settings: HaoeeSettings) -> dict[str, str]:
    return {
        "Authorization": settings.authorization_header(),
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": "prefect-haoee",
    }


def client_timeout(settings: HaoeeSettings) -> httpx.Timeout:
    return httpx.Timeout(
        connect=settings.connect_timeout,
        read=settings.read_timeout,
        write=settings.write_timeout,
        pool=settings.pool_timeout,
    )


def client_limits(settings: HaoeeSettings) -> httpx.Limits:
    return httpx.Limits(
        max_connections=settings.max_connections,
        max_keepalive_connections=settings.max_keepalive_connections,
    )


def transport_error(exc: httpx.HTTPError, scrub: Scrubber) -> TransportError:
    kind = type(exc).__name__
    error = TransportError(redact_urls(scrub(f"{kind}: {exc}" if str(exc) else kind)))
    error.request_sent = not isinstance(exc, NOT_SENT)
    return error


@contextmanager
def map_httpx_errors(scrub: Scrubber) -> Iterator[None]:
    """Re-raise any httpx error of the block as a (scrubbed) :class:`TransportError` that
    says whether the request may have reached the gateway. Works around ``async with``."""
    try:
        yield
    except httpx.HTTPError as exc:
        raise transport_error(exc, scrub) from None


def answer_too_big(status: int, limit: int) -> UnusableAnswerError:
    return UnusableAnswerError(
        f"the gateway's answer (HTTP {status}) is over the {limit}-byte cap "
        "(HAOEE_MAX_ANSWER_BYTES): not read further, not resent",
        http_status=status,
    )


class CappedBody:
    """Collects a streamed answer up to ``limit`` bytes (sans-IO: both twins feed it)."""

    def __init__(self, response: httpx.Response, limit: int) -> None:
        declared = response.headers.get("Content-Length", "").strip()
        if declared.isdigit() and int(declared) > limit:
            raise answer_too_big(response.status_code, limit)
        self.response = response
        self.limit = limit
        self.chunks: list[bytes] = []
        self.total = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        if self.total > self.limit:
            raise answer_too_big(self.response.status_code, self.limit)
        self.chunks.append(chunk)

    def read(self) -> httpx.Response:
        """The answer as a plain, already-read response."""
        # The body is already decoded: drop the headers that would make httpx decode it again.
        skip = {"content-encoding", "content-length", "transfer-encoding"}
        response = self.response
        headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in skip]
        return httpx.Response(
            response.status_code,
            headers=headers,
            content=b"".join(self.chunks),
            request=response.request,
        )


def read_capped(response: httpx.Response, limit: int) -> httpx.Response:
    """The streamed ``response`` read up to ``limit`` bytes, as a plain response."""
    body = CappedBody(response, limit)
    for chunk in response.iter_bytes():
        body.add(chunk)
    return body.read()


async def aread_capped(response: httpx.Response, limit: int) -> httpx.Response:
    """:func:`read_capped` for the async client."""
    body = CappedBody(response, limit)
    async for chunk in response.aiter_bytes():
        body.add(chunk)
    return body.read()
