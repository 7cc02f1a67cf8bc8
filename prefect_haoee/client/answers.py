"""The one reader of error answers: every gateway shape mapped onto the error tree.

Tolerant of every body a family sends: OpenAI ``{"error": {...}}``, gateway ``{code,
message}`` (``code`` ``"success"``/0/200/10000 meaning success), MiniMax ``base_resp``,
FastAPI ``detail``, Volcengine ``ResponseMetadata``. A family adapter gives its
:class:`ErrorTable`; the classifier is the same for all.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx

from prefect_haoee.client.calls import Purpose
from prefect_haoee.client.errors import (
    AuthenticationError,
    ContentRejectedError,
    HaoeeError,
    InvalidRequestError,
    RateLimitedError,
    ServerError,
    TaskNotFoundError,
    error_for,
    make_error,
)
from prefect_haoee.client.retry import parse_retry_after


def read_json(response: httpx.Response) -> tuple[Any, float | None]:
    """The answer's JSON (None when it is not JSON) and its ``Retry-After`` in seconds."""
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    try:
        return response.json(), retry_after
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None, retry_after


SUCCESS_CODES = frozenset({"success", "succeed", "ok", "0", "200", "10000"})
"""``code`` values of a gateway envelope that mean success (compared as lower-case text)."""

MODERATION_WORDS: tuple[str, ...] = (
    "moderation",
    "content policy",
    "content_policy",
    "sensitive",
    "risk not pass",
    "safety",
    "violat",
    "prohibited",
    "审核",
    "敏感",
    "违规",
)


def code_text(code: Any) -> str | None:
    if code is None or isinstance(code, bool):
        return None
    text = str(code).strip()
    return text or None


def code_int(code: Any) -> int | None:
    if isinstance(code, int) and not isinstance(code, bool):
        return code
    if isinstance(code, str) and code.strip().lstrip("-").isdigit():
        return int(code.strip())
    return None


def is_success_code(code: Any) -> bool:
    text = code_text(code)
    return text is None or text.lower() in SUCCESS_CODES


def error_fields(payload: Any) -> tuple[Any, str | None, str | None]:
    """(code, message, request_id) of any known error body; (None, None, None) if none.

    Shapes: OpenAI ``{"error": {"code", "message", "type"}}`` (or ``"error": "text"``),
    gateway ``{"code", "message"|"msg"}``, MiniMax ``{"base_resp": {status_code,
    status_msg}}``, FastAPI ``{"detail": ...}``.
    """
    if not isinstance(payload, dict):
        return None, None, None
    request_id = payload.get("request_id") or payload.get("requestId")
    rid = str(request_id)[:128] if request_id is not None else None
    err = payload.get("error")
    if isinstance(err, dict):
        code = err.get("code") if err.get("code") is not None else err.get("type")
        message = err.get("message") or err.get("type") or "error"
        return code, str(message), rid
    if isinstance(err, str) and err:
        return payload.get("code", err), str(payload.get("message") or err), rid
    base = payload.get("base_resp")
    if isinstance(base, dict) and base.get("status_code") not in (None, 0, "0"):
        return base.get("status_code"), str(base.get("status_msg") or "error"), rid
    if "code" in payload and not is_success_code(payload.get("code")):
        message = payload.get("message") or payload.get("msg") or f"code {payload.get('code')}"
        return payload.get("code"), str(message), rid
    detail = payload.get("detail")
    if detail is not None:
        return None, str(detail)[:300], rid
    return None, None, None


@dataclass(frozen=True)
class ErrorTable:
    """A family's error codes (compared as lower-case text) by class."""

    rate_limit: frozenset[str] = frozenset()
    moderation: frozenset[str] = frozenset()
    auth: frozenset[str] = frozenset()
    server: frozenset[str] = frozenset()
    not_found: frozenset[str] = frozenset()
    moderation_words: tuple[str, ...] = MODERATION_WORDS

    def looks_moderated(self, code: Any, message: str | None) -> bool:
        text = (code_text(code) or "").lower()
        if text in self.moderation:
            return True
        lowered = (message or "").lower()
        return any(word in lowered for word in self.moderation_words)

    def extended(
        self,
        *,
        rate_limit: Iterable[Any] = (),
        moderation: Iterable[Any] = (),
        auth: Iterable[Any] = (),
        server: Iterable[Any] = (),
        not_found: Iterable[Any] = (),
    ) -> ErrorTable:
        """This table plus a family's own codes."""
        return ErrorTable(
            rate_limit=self.rate_limit | _lower(rate_limit),
            moderation=self.moderation | _lower(moderation),
            auth=self.auth | _lower(auth),
            server=self.server | _lower(server),
            not_found=self.not_found | _lower(not_found),
            moderation_words=self.moderation_words,
        )


def _lower(values: Iterable[Any]) -> frozenset[str]:
    return frozenset(str(v).lower() for v in values)


def error_table(**codes: Iterable[Any]) -> ErrorTable:
    """A family's table from its codes by class (``rate_limit=``, ``moderation=``, ``auth=``,
    ``server=``, ``not_found=``)."""
    return ErrorTable().extended(**codes)


COMMON_ERRORS = error_table(
    rate_limit={"rate_limit_exceeded", "too_many_requests"},
    moderation={"content_policy_violation"},
    auth={"invalid_api_key", "unauthorized"},
    server={"server_error", "internal_error"},
    not_found={"task_not_found", "task_not_exist", "not_found"},
)
"""Codes every family's gateway route answers alike (GUESS: OpenAI-style names); a family
adds its own with :meth:`ErrorTable.extended`."""

OPENAI_STYLE_ERRORS = COMMON_ERRORS.extended(
    rate_limit={"concurrency_limit_exceeded"},
    moderation={"moderation_blocked", "content_filter", "sensitive_words_detected"},
    auth={"authentication_error"},
    server={"upstream_error"},
)
"""OpenAI-style routes (images, sora)."""

GATEWAY_CODE_RANGE = range(50000, 70000)
"""Haoee's own numeric codes (volcengine-visual.md §6): mapped by ``error_for`` as they are."""


def classify_error(
    table: ErrorTable,
    *,
    http_status: int | None,
    code: Any,
    message: str,
    request_id: str | None = None,
    retry_after: float | None = None,
    purpose: Purpose = "generate",
) -> HaoeeError:
    """Map an error answer onto the client's error tree, using the family's table."""
    number = code_int(code)
    text = (code_text(code) or "").lower()
    shown = message if not text or text in message.lower() else f"{message} (code {text})"
    if number is not None and number in GATEWAY_CODE_RANGE:
        return error_for(
            http_status=http_status,
            code=number,
            message=shown,
            request_id=request_id,
            retry_after=retry_after,
        )
    cls: type[HaoeeError]
    if http_status == 429 or text in table.rate_limit:
        cls = RateLimitedError
    elif text in table.auth or http_status in (401, 403):
        cls = AuthenticationError
    elif table.looks_moderated(code, message) and (http_status is None or http_status < 500):
        cls = ContentRejectedError
    elif purpose in ("poll", "file") and (http_status == 404 or text in table.not_found):
        cls = TaskNotFoundError
    elif text in table.server or (http_status is not None and http_status >= 500):
        cls = ServerError
    else:
        cls = InvalidRequestError
    return make_error(
        cls,
        shown,
        code=number,
        http_status=http_status,
        request_id=request_id,
        retry_after=retry_after,
    )
