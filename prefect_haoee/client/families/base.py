"""What every non-visual family shares: request identity, job handles and states, reading.

Nothing here is a guess about one family's shapes: those live in the family's own module
(``openai_images``, ``video_sora``, ``video_minimax``, ``video_kling``, ``music_suno``), so
a correction is a one-file change. This module holds the family-agnostic machinery:

* :class:`FamilyRequest` — frozen, ``extra="forbid"`` request models whose canonical JSON
  (the body sent, delivery-only fields left out) hashed with sha256 is the request hash;
* :class:`JobHandle` / :class:`JobState` and the common :data:`JobStatus`;
* :class:`HttpCall` — one HTTP exchange, built without I/O (sans-IO, like ``protocol.py``);
* :class:`FamilyAdapter` — what a family module implements: build calls, read answers;
* tolerant readers: gateway envelopes (``{code, message, data}`` with ``code`` ``"success"``
  / 0 / 200 / 10000), error bodies (OpenAI ``{"error": {...}}``, ``{code, message}``,
  MiniMax ``base_resp``) and their mapping onto the client's error tree.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from prefect_haoee.client.errors import (
    AuthenticationError,
    ContentRejectedError,
    HaoeeError,
    InvalidRequestError,
    RateLimitedError,
    ServerError,
    TaskNotFoundError,
    TransportError,
    error_for,
)
from prefect_haoee.client.requests.base import base64_identity
from prefect_haoee.client.requests.rules import GUESSED_INPUT_LIMITS, InputLimits, WireImage

FamilyName = Literal["openai_images", "sora", "minimax", "kling", "suno"]
"""Which wire format a job speaks (one client module each)."""

MediaKind = Literal["image", "video", "music"]
"""What a request produces (the campaign item ``kind``)."""

JobStatus = Literal["queued", "running", "succeeded", "failed"]
"""Every family's task status, normalised."""

Purpose = Literal["generate", "submit", "poll", "file"]

# -- request identity ---------------------------------------------------------------------


class FamilyRequest(BaseModel):
    """Base of every non-visual request model.

    Like :class:`~prefect_haoee.client.requests.base.VisualRequest`, a request is the unit
    of identity: :attr:`request_hash` is the sha256 of :meth:`canonical_json` — the body
    :meth:`to_body` sends, minus :attr:`delivery_fields` (how the answer is delivered, not
    what is made), with sorted keys, compact separators and ``ensure_ascii=False``. The
    simulator hashes the body it receives the same way, so its ledger's ``duplicates``
    counts a request paid twice.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    family: ClassVar[FamilyName]
    kind: ClassVar[MediaKind]
    delivery_fields: ClassVar[frozenset[str]] = frozenset()
    image_fields: ClassVar[frozenset[str]] = frozenset()
    """Fields holding input images: in the hash, inline images count by content."""
    max_references: ClassVar[int] = 0
    input_limits: ClassVar[InputLimits] = GUESSED_INPUT_LIMITS

    @classmethod
    def reference_fields(cls, images: Sequence[WireImage]) -> dict[str, Any]:
        """The body fields carrying campaign reference ``images`` (``ValueError`` if this
        request cannot take them). Families override this with what their API accepts."""
        if images:
            raise ValueError(f"{cls.__name__} takes no input image")
        return {}

    @classmethod
    def check_reference_count(cls, images: Sequence[WireImage]) -> None:
        if len(images) > cls.max_references:
            raise ValueError(
                f"{cls.__name__} takes at most {cls.max_references} image(s), got {len(images)}"
            )

    @property
    def model_id(self) -> str:
        """The gateway model this request is billed under (``model``/``model_name``/``mv``)."""
        for name in ("model", "model_name", "mv"):
            value = getattr(self, name, None)
            if isinstance(value, str) and value:
                return value
        return self.family

    @property
    def variant(self) -> str | None:
        """A family sub-route the job lives under (Kling ``text2video``...), else None."""
        return None

    def to_body(self) -> dict[str, Any]:
        """The JSON body sent to the gateway (unset optional fields left out)."""
        return self.model_dump(mode="json", exclude_none=True)

    def canonical_body(self) -> dict[str, Any]:
        """The body without delivery fields; inline images (base64, data URLs) of
        :attr:`image_fields` as the sha256 of their bytes, URLs as they are."""
        body = {k: v for k, v in self.to_body().items() if k not in self.delivery_fields}
        for name in self.image_fields & body.keys():
            value = body[name]
            body[name] = (
                [image_identity(v) for v in value]
                if isinstance(value, list)
                else image_identity(value)
            )
        return body

    def canonical_json(self) -> str:
        return json.dumps(
            self.canonical_body(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )

    @property
    def request_hash(self) -> str:
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()

    @property
    def seed_value(self) -> int | None:
        seed = getattr(self, "seed", None)
        return seed if isinstance(seed, int) and not isinstance(seed, bool) else None

    @property
    def is_deterministic(self) -> bool:
        """False only for ``seed=-1``: such a request must never be cached."""
        return self.seed_value != -1


def image_identity(value: Any) -> Any:
    """An input image as the request hash sees it: a URL as is, inline data by content."""
    if not isinstance(value, str) or value.startswith(("http://", "https://")):
        return value
    if value.startswith("data:"):
        value = value.partition(",")[2]
    return base64_identity(value)


# -- jobs -----------------------------------------------------------------------------------


class JobHandle(BaseModel):
    """An accepted (billed) submission: poll it with ``get_job``/``wait_job``."""

    model_config = ConfigDict(frozen=True)

    family: FamilyName
    kind: MediaKind
    job_id: str
    request_hash: str
    model: str
    variant: str | None = None
    """Family sub-route (Kling ``text2video``/``image2video``; images ``generations``/``edits``)."""


class JobState(BaseModel):
    """One poll of a job, normalised across families."""

    model_config = ConfigDict(frozen=True)

    family: FamilyName
    job_id: str
    status: JobStatus
    raw_status: str | None = None
    """The status string the gateway sent (for logs)."""
    file_urls: list[str] = Field(default_factory=list)
    """Produced files: URLs (for images possibly inline base64, which ``download`` accepts)."""
    file_ids: list[str] = Field(default_factory=list)
    """Files the family names by id only (MiniMax): the client resolves them to URLs."""
    error: str | None = None
    error_code: str | None = None
    moderated: bool = False
    """The failure is a moderation refusal (raised as ``ContentRejectedError``)."""
    progress: float | None = None
    """0..1 when the gateway says."""
    extras: dict[str, Any] = Field(default_factory=dict, repr=False)
    """Family extras (suno clip titles/durations, sora size/seconds...)."""

    @property
    def finished(self) -> bool:
        return self.status in ("succeeded", "failed")


# -- sans-IO calls ------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpCall:
    """One gateway exchange, ready to send (paths are relative to the base URL)."""

    family: FamilyName
    purpose: Purpose
    method: Literal["GET", "POST"]
    path: str
    params: tuple[tuple[str, str], ...] = ()
    json: dict[str, Any] | None = field(default=None, hash=False)
    content: bytes | None = field(default=None, repr=False)
    content_type: str | None = None

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Type": self.content_type} if self.content_type else {}


# -- status normalisation -----------------------------------------------------------------

COMMON_STATUSES: Mapping[str, JobStatus] = {
    "queued": "queued",
    "queue": "queued",
    "queueing": "queued",
    "in_queue": "queued",
    "pending": "queued",
    "submitted": "queued",
    "not_start": "queued",
    "not_started": "queued",
    "waiting": "queued",
    "created": "queued",
    "in_progress": "running",
    "processing": "running",
    "running": "running",
    "generating": "running",
    "preparing": "running",
    "streaming": "running",
    "started": "running",
    "completed": "succeeded",
    "complete": "succeeded",
    "succeeded": "succeeded",
    "succeed": "succeeded",
    "success": "succeeded",
    "done": "succeeded",
    "finished": "succeeded",
    "failed": "failed",
    "failure": "failed",
    "fail": "failed",
    "error": "failed",
    "cancelled": "failed",
    "canceled": "failed",
    "expired": "failed",
}


def normalise_status(raw: Any, table: Mapping[str, JobStatus] | None = None) -> JobStatus:
    """Map a gateway status onto :data:`JobStatus` (family table first, then the common one).

    An unknown status is a :class:`TransportError`: better a clear error than a job that
    waits until its deadline because a status string was misread.
    """
    key = str(raw).strip().lower().replace(" ", "_").replace("-", "_") if raw is not None else ""
    for source in (table or {}, COMMON_STATUSES):
        lowered = {k.lower(): v for k, v in source.items()}
        if key in lowered:
            return lowered[key]
    raise TransportError(f"the gateway answered an unknown job status {raw!r}")


def parse_progress(value: Any) -> float | None:
    """``"45%"`` / ``45`` / ``0.45`` -> 0.45 (None if absent or unreadable)."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip().rstrip("%")
    try:
        number = float(text)
    except ValueError:
        return None
    if isinstance(value, str) and str(value).strip().endswith("%") or number > 1:
        number /= 100
    return max(0.0, min(1.0, number))


# -- envelopes and errors -----------------------------------------------------------------

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


def _lower(values: Iterable[Any]) -> frozenset[str]:
    return frozenset(str(v).lower() for v in values)


def error_table(
    *,
    rate_limit: Iterable[Any] = (),
    moderation: Iterable[Any] = (),
    auth: Iterable[Any] = (),
    server: Iterable[Any] = (),
    not_found: Iterable[Any] = (),
) -> ErrorTable:
    return ErrorTable(
        rate_limit=_lower(rate_limit),
        moderation=_lower(moderation),
        auth=_lower(auth),
        server=_lower(server),
        not_found=_lower(not_found),
    )


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
    error = cls(shown, code=number, http_status=http_status, request_id=request_id)
    if isinstance(error, RateLimitedError):
        error.retry_after = retry_after
    return error


# -- walking answers ------------------------------------------------------------------------


def unwrap(payload: Any, *keys: str) -> Any:
    """``payload[k1][k2]...`` through dicts; None when a step is missing."""
    current = payload
    for key in keys:
        if not isinstance(current, dict):
            return None
        current = current.get(key)
    return current


def first_present(mapping: Any, *keys: str) -> Any:
    if not isinstance(mapping, dict):
        return None
    for key in keys:
        value = mapping.get(key)
        if value not in (None, ""):
            return value
    return None


def collect_strings(
    value: Any, keys: frozenset[str], *, list_keys: frozenset[str] = frozenset(), depth: int = 6
) -> list[str]:
    """Every non-empty string under one of ``keys`` (or in a list under ``list_keys``)."""
    found: list[str] = []

    def walk(node: Any, level: int) -> None:
        if level > depth:
            return
        if isinstance(node, dict):
            for key, child in node.items():
                if key in keys and isinstance(child, str) and child:
                    found.append(child)
                elif key in list_keys and isinstance(child, list):
                    found.extend(c for c in child if isinstance(c, str) and c)
                else:
                    walk(child, level + 1)
        elif isinstance(node, list):
            for child in node:
                walk(child, level + 1)

    walk(value, 0)
    return list(dict.fromkeys(found))


# -- what a family module implements ------------------------------------------------------


class FamilyAdapter:
    """Build a family's calls and read its answers (no I/O). One instance per family."""

    family: ClassVar[FamilyName]
    kind: ClassVar[MediaKind]
    errors: ClassVar[ErrorTable] = ErrorTable()
    request_types: ClassVar[tuple[type[FamilyRequest], ...]] = ()
    supports_webhook: ClassVar[bool] = False

    def submit_call(self, request: FamilyRequest, *, webhook: str | None = None) -> HttpCall:
        raise NotImplementedError

    def parse_submit(self, payload: Any) -> str:
        """The job id of an accepted submission."""
        raise NotImplementedError

    def poll_call(self, handle: JobHandle) -> HttpCall:
        raise NotImplementedError

    def parse_poll(self, payload: Any, handle: JobHandle, base_url: str) -> JobState:
        raise NotImplementedError

    def file_call(self, handle: JobHandle, file_id: str) -> HttpCall:
        raise NotImplementedError(f"{self.family} names its files by URL")

    def parse_file(self, payload: Any) -> str:
        raise NotImplementedError(f"{self.family} names its files by URL")

    def business_error(self, payload: Any, call: HttpCall, http_status: int) -> HaoeeError | None:
        """An error carried by a 2xx answer (an envelope whose ``code`` is not success)."""
        code, message, request_id = error_fields(payload)
        if code is None and message is None:
            return None
        if call.purpose == "poll" and isinstance(payload, dict) and "status" in payload:
            return None  # a job object (its own ``error`` is the job's failure)
        return classify_error(
            self.errors,
            http_status=http_status,
            code=code,
            message=message or "error",
            request_id=request_id,
            purpose=call.purpose,
        )

    def handle_for(self, request: FamilyRequest, job_id: str) -> JobHandle:
        return JobHandle(
            family=self.family,
            kind=self.kind,
            job_id=job_id,
            request_hash=request.request_hash,
            model=request.model_id,
            variant=request.variant,
        )

    def failed_state(
        self,
        handle: JobHandle,
        *,
        raw_status: str | None,
        code: Any,
        message: str | None,
        progress: float | None = None,
    ) -> JobState:
        text = message or "job failed"
        return JobState(
            family=self.family,
            job_id=handle.job_id,
            status="failed",
            raw_status=raw_status,
            error=text,
            error_code=code_text(code),
            moderated=self.errors.looks_moderated(code, text),
            progress=progress,
        )


def submitted_id(payload: Any, *keys: str) -> str:
    """A job id from ``{"<key>": id}``, ``{"data": "id"}`` or ``{"data": {"<key>": id}}``."""
    keys = keys or ("task_id",)
    candidates: list[Any] = []
    if isinstance(payload, dict):
        candidates += [payload.get(k) for k in keys]
        data = payload.get("data")
        if isinstance(data, (str, int)) and not isinstance(data, bool):
            candidates.append(data)
        elif isinstance(data, dict):
            candidates += [data.get(k) for k in keys]
    for value in candidates:
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
    raise TransportError(f"the submission was accepted without a job id ({_shape(payload)})")


def _shape(payload: Any) -> str:
    if isinstance(payload, dict):
        return "keys: " + ", ".join(sorted(str(k) for k in payload)[:12])
    return type(payload).__name__


def encode_multipart(
    fields: Mapping[str, str], files: list[tuple[str, tuple[str, bytes, str]]]
) -> tuple[bytes, str]:
    """A ``multipart/form-data`` body and its ``Content-Type`` (with the boundary)."""
    request = httpx.Request("POST", "http://multipart.invalid/", data=dict(fields), files=files)
    return request.read(), request.headers["Content-Type"]
