"""The gateway's answer envelope, ids and Go-style durations (volcengine-visual.md §3)."""

from __future__ import annotations

import json
import secrets
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from starlette.responses import Response

from prefect_haoee.simulator.codes import SUCCESS, SimError, default_message, http_status
from prefect_haoee.simulator.faults import SimulatedDrop

_BEIJING = timezone(timedelta(hours=8))


_stamp: tuple[int, str] = (0, "")


def new_request_id() -> str:
    """34 characters: a ``YYYYMMDDhhmmss`` timestamp (UTC+8) then 20 upper-case hex digits."""
    global _stamp
    now = int(time.time())
    if _stamp[0] != now:
        text = datetime.fromtimestamp(now, _BEIJING).strftime("%Y%m%d%H%M%S")
        _stamp = (now, text)
    return _stamp[1] + secrets.token_hex(10).upper()


def new_data_request_id() -> str:
    """The 64-hex ``data.request_id`` of a CVProcess answer."""
    return secrets.token_hex(32)


def _trim(value: float, decimals: int) -> str:
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def go_duration(seconds: float) -> str:
    """Format like Go's ``time.Duration.String()``: ``104.852309ms``, ``3.9656567s``."""
    ns = round(max(seconds, 0.0) * 1e9)
    if ns == 0:
        return "0s"
    if ns < 1_000:
        return f"{ns}ns"
    if ns < 1_000_000:
        return _trim(ns / 1e3, 3) + "µs"
    if ns < 1_000_000_000:
        return _trim(ns / 1e6, 6) + "ms"
    hours, rest = divmod(ns, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    out = ""
    if hours:
        out += f"{hours}h"
    if hours or minutes:
        out += f"{minutes}m"
    return out + _trim(rest / 1e9, 9) + "s"


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def envelope(
    code: int,
    data: dict[str, Any] | None,
    *,
    request_id: str,
    elapsed_s: float,
    message: str | None = None,
) -> dict[str, Any]:
    return {
        "code": code,
        "data": data,
        "message": message if message is not None else default_message(code),
        "request_id": request_id,
        "status": code,
        "time_elapsed": go_duration(elapsed_s),
    }


def json_response(
    body: dict[str, Any], status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        content=dumps(body), status_code=status_code, headers=headers, media_type="application/json"
    )


def success_response(data: dict[str, Any], *, request_id: str, elapsed_s: float) -> Response:
    return json_response(envelope(SUCCESS, data, request_id=request_id, elapsed_s=elapsed_s))


def error_response(
    err: SimError,
    *,
    request_id: str,
    elapsed_s: float,
    data: dict[str, Any] | None = None,
) -> Response:
    headers = {"Retry-After": str(err.retry_after)} if err.retry_after is not None else None
    body = envelope(err.code, data, request_id=request_id, elapsed_s=elapsed_s, message=err.message)
    return json_response(body, http_status(err.code), headers)


class DropResponse(Response):
    """Start an answer, then cut the connection (the client sees a transport error).

    Headers promise a body that never fully arrives; raising after ``http.response.start``
    makes uvicorn close the socket (a plain error would become an HTTP 500 instead).
    """

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"code":10000,', "more_body": True})
        raise SimulatedDrop("simulated connection drop")
