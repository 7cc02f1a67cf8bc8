"""The wire protocol, without I/O: how a call is built and how an answer is read.

Shared by the sync and async clients, so both behave the same byte for byte.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from pydantic import ValidationError

from prefect_haoee.client.errors import (
    SUCCESS_CODE,
    HaoeeError,
    InvalidRequestError,
    ServerError,
    TaskFailedError,
    TransportError,
    UnusableAnswerError,
    error_for,
)
from prefect_haoee.client.redact import Scrubber
from prefect_haoee.client.requests.base import LogoInfo, VisualRequest
from prefect_haoee.client.responses import Envelope
from prefect_haoee.client.retry import parse_retry_after
from prefect_haoee.client.settings import HaoeeSettings

VISUAL_PATH = "/volcv/v1"
API_VERSION = "2022-08-31"

Action = Literal["CVProcess", "CVSync2AsyncSubmitTask", "CVSync2AsyncGetResult"]
PAID_ACTIONS: frozenset[str] = frozenset({"CVProcess", "CVSync2AsyncSubmitTask"})


@dataclass(frozen=True)
class Call:
    """One gateway call, ready to send."""

    action: Action
    body: dict[str, Any]
    model_name: str

    @property
    def params(self) -> dict[str, str]:
        return {"Action": self.action, "Version": API_VERSION}

    @property
    def headers(self) -> dict[str, str]:
        # GUESS (shared/api/README.md §2): the gateway's `ModelName` header takes the req_key.
        return {"ModelName": self.model_name}


def process_call(request: VisualRequest, model_name: str | None = None) -> Call:
    return Call("CVProcess", request.to_body(), model_name or request.req_key)


# Output options of an async task are chosen when polling (GetResult's req_json); upstream
# accepts them at submit only in callback mode, and then as JSON strings (Jimeng 4.0/4.6).
POLL_TIME_FIELDS = ("return_url", "logo_info")


def submit_call(request: VisualRequest, model_name: str | None = None) -> Call:
    body = request.to_body()
    for name in POLL_TIME_FIELDS:
        body.pop(name, None)
    return Call("CVSync2AsyncSubmitTask", body, model_name or request.req_key)


def get_result_call(
    req_key: str,
    task_id: str,
    *,
    return_url: bool = True,
    logo_info: LogoInfo | None = None,
    model_name: str | None = None,
) -> Call:
    """GetResult carries output options in ``req_json``, a JSON-encoded *string*."""
    req_json: dict[str, Any] = {"return_url": return_url}
    if logo_info is not None:
        req_json["logo_info"] = logo_info.model_dump(mode="json", exclude_none=True)
    body = {
        "req_key": req_key,
        "task_id": task_id,
        "req_json": json.dumps(req_json, separators=(",", ":")),
    }
    return Call("CVSync2AsyncGetResult", body, model_name or req_key)


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


# httpx errors raised before the request could reach the gateway.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def transport_error(exc: httpx.HTTPError, scrub: Scrubber) -> TransportError:
    kind = type(exc).__name__
    error = TransportError(scrub(f"{kind}: {exc}" if str(exc) else kind))
    error.request_sent = not isinstance(exc, NOT_SENT)
    return error


def answer_too_big(status: int, limit: int) -> UnusableAnswerError:
    return UnusableAnswerError(
        f"the gateway's answer (HTTP {status}) is over the {limit}-byte cap "
        "(HAOEE_MAX_ANSWER_BYTES): not read further, not resent",
        http_status=status,
    )


def _check_declared(response: httpx.Response, limit: int) -> None:
    declared = response.headers.get("Content-Length", "").strip()
    if declared.isdigit() and int(declared) > limit:
        raise answer_too_big(response.status_code, limit)


def read_capped(response: httpx.Response, limit: int) -> httpx.Response:
    """The streamed ``response`` read up to ``limit`` bytes, as a plain response."""
    _check_declared(response, limit)
    chunks: list[bytes] = []
    total = 0
    for chunk in response.iter_bytes():
        total += len(chunk)
        if total > limit:
            raise answer_too_big(response.status_code, limit)
        chunks.append(chunk)
    return _as_read(response, b"".join(chunks))


async def aread_capped(response: httpx.Response, limit: int) -> httpx.Response:
    """:func:`read_capped` for the async client."""
    _check_declared(response, limit)
    chunks: list[bytes] = []
    total = 0
    async for chunk in response.aiter_bytes():
        total += len(chunk)
        if total > limit:
            raise answer_too_big(response.status_code, limit)
        chunks.append(chunk)
    return _as_read(response, b"".join(chunks))


def _as_read(response: httpx.Response, body: bytes) -> httpx.Response:
    # The body is already decoded: drop the headers that would make httpx decode it again.
    skip = {"content-encoding", "content-length", "transfer-encoding"}
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in skip]
    return httpx.Response(
        response.status_code, headers=headers, content=body, request=response.request
    )


def _error_body_fields(payload: Any) -> tuple[int | None, str | None, str | None]:
    """(code, message, request_id) from any known error body shape."""
    if not isinstance(payload, dict):
        return None, None, None
    if "code" in payload and isinstance(payload.get("code"), int):
        return payload["code"], str(payload.get("message", "")), payload.get("request_id")
    err = payload.get("error")
    if isinstance(err, dict):  # OpenAI-style gateway error
        code = err.get("code")
        return (
            code if isinstance(code, int) else None,
            str(err.get("message") or err.get("type") or "error"),
            payload.get("request_id"),
        )
    meta = payload.get("ResponseMetadata")
    if isinstance(meta, dict) and isinstance(meta.get("Error"), dict):
        e = meta["Error"]
        return None, f"{e.get('Code', '')}: {e.get('Message', '')}", meta.get("RequestId")
    return None, None, None


def parse_envelope(response: httpx.Response, scrub: Scrubber) -> Envelope:
    """Read an answer: the envelope on success, else raise the mapped :class:`HaoeeError`.

    ``code != 10000`` is an error even with HTTP 200; error bodies of non-2xx answers are
    parsed for their code; a body that is not the gateway's JSON is a transport error on
    2xx/5xx and a status-mapped error on 4xx.
    """
    status = response.status_code
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    try:
        payload = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        payload = None
    if status < 300 and isinstance(payload, dict):
        try:
            env = Envelope.model_validate(payload)
        except ValidationError:
            env = None
        if env is not None and env.code == SUCCESS_CODE:
            return env
    code, message, request_id = _error_body_fields(payload)
    if code is None and message is None:
        snippet = scrub(response.text[:400])[:200] if payload is None else "unexpected JSON"
        text = f"gateway answered HTTP {status} with a body that is not its JSON: {snippet!r}"
        if status < 300 or status >= 500:
            return _raise(TransportError(text, http_status=status))
        return _raise(error_for(http_status=status, code=None, message=text))
    err = error_for(
        http_status=status,
        code=code,
        message=scrub((message or f"HTTP {status}")[:1000])[:500],
        request_id=scrub(str(request_id))[:128] if request_id is not None else None,
        retry_after=retry_after,
    )
    if _task_finished(payload) and isinstance(err, (ServerError, InvalidRequestError)):
        # "done" with an error code: the task itself failed; polling again answers the same.
        err = TaskFailedError(
            f"async task failed: {err.message}",
            code=err.code,
            http_status=err.http_status,
            request_id=err.request_id,
        )
    return _raise(err)


def _task_finished(payload: Any) -> bool:
    """True for a GetResult answer whose task is over (``data.status == "done"``)."""
    data = payload.get("data") if isinstance(payload, dict) else None
    return isinstance(data, dict) and data.get("status") == "done"


def _raise(error: HaoeeError) -> Envelope:
    raise error
