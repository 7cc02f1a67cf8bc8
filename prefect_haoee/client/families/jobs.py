"""The family-agnostic job protocol, without I/O: which family a request speaks, how a
call's answer is read, and what a finished job means.

Shared by the sync and async clients (``submit_job``/``get_job``/``wait_job``/
``generate_images``), so both behave the same byte for byte.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import httpx

from prefect_haoee.client.errors import (
    ContentRejectedError,
    RateLimitedError,
    TaskFailedError,
    TransportError,
)
from prefect_haoee.client.families.base import (
    FamilyAdapter,
    FamilyName,
    FamilyRequest,
    HttpCall,
    JobHandle,
    JobState,
    MediaKind,
    classify_error,
    error_fields,
)
from prefect_haoee.client.families.music_suno import (
    ADAPTER as SUNO,
)
from prefect_haoee.client.families.music_suno import (
    SunoCustomRequest,
    SunoInspirationRequest,
)
from prefect_haoee.client.families.openai_images import (
    ADAPTER as OPENAI_IMAGES,
)
from prefect_haoee.client.families.openai_images import (
    ImageEditRequest,
    ImageGenerationRequest,
    images_from_answer,
)
from prefect_haoee.client.families.video_kling import ADAPTER as KLING
from prefect_haoee.client.families.video_kling import (
    KlingImage2VideoRequest,
    KlingText2VideoRequest,
)
from prefect_haoee.client.families.video_minimax import ADAPTER as MINIMAX
from prefect_haoee.client.families.video_minimax import MinimaxVideoRequest
from prefect_haoee.client.families.video_sora import ADAPTER as SORA
from prefect_haoee.client.families.video_sora import SoraVideoRequest
from prefect_haoee.client.redact import Scrubber
from prefect_haoee.client.responses import GeneratedImages
from prefect_haoee.client.retry import parse_retry_after

JobRequest = (
    ImageGenerationRequest
    | ImageEditRequest
    | SoraVideoRequest
    | MinimaxVideoRequest
    | KlingText2VideoRequest
    | KlingImage2VideoRequest
    | SunoInspirationRequest
    | SunoCustomRequest
)
"""Every request ``submit_job`` takes."""

ImagesRequest = ImageGenerationRequest | ImageEditRequest
"""What ``generate_images`` takes."""

ADAPTERS: dict[FamilyName, FamilyAdapter] = {
    a.family: a for a in (OPENAI_IMAGES, SORA, MINIMAX, KLING, SUNO)
}

MediaType = Literal["video", "audio"]
MEDIA_OF_KIND: dict[MediaKind, MediaType | None] = {
    "image": None,
    "video": "video",
    "music": "audio",
}
"""The ``download_media`` kind of a job's files (images go through ``download``)."""


def adapter_named(family: FamilyName) -> FamilyAdapter:
    try:
        return ADAPTERS[family]
    except KeyError:
        raise ValueError(f"unknown family {family!r}") from None


def adapter_for(request: FamilyRequest) -> FamilyAdapter:
    adapter = adapter_named(request.family)
    if not isinstance(request, adapter.request_types):
        raise TypeError(f"{type(request).__name__} is not a {request.family} request")
    return adapter


def submit_call(request: FamilyRequest, *, webhook: str | None = None) -> HttpCall:
    adapter = adapter_for(request)
    if webhook is not None and not adapter.supports_webhook:
        raise ValueError(f"the {adapter.family} family takes no webhook")
    return adapter.submit_call(request, webhook=webhook)


def images_call(request: FamilyRequest) -> HttpCall:
    if not isinstance(request, (ImageGenerationRequest, ImageEditRequest)):
        raise TypeError(f"generate_images takes an images request, not {type(request).__name__}")
    return OPENAI_IMAGES.generate_call(request)


def images_answer(payload: Any) -> GeneratedImages:
    images = images_from_answer(payload)
    if images.count == 0:
        raise TransportError("the images call succeeded without an image")
    return images


def job_handle(request: FamilyRequest, payload: Any) -> JobHandle:
    adapter = adapter_for(request)
    return adapter.handle_for(request, adapter.parse_submit(payload))


def poll_call(handle: JobHandle) -> HttpCall:
    return adapter_named(handle.family).poll_call(handle)


def job_state(handle: JobHandle, payload: Any, base_url: str) -> JobState:
    return adapter_named(handle.family).parse_poll(payload, handle, base_url)


def file_call(handle: JobHandle, file_id: str) -> HttpCall:
    return adapter_named(handle.family).file_call(handle, file_id)


def file_url(handle: JobHandle, payload: Any) -> str:
    return adapter_named(handle.family).parse_file(payload)


def needs_file_lookup(state: JobState) -> bool:
    return state.status == "succeeded" and bool(state.file_ids) and not state.file_urls


def read_payload(response: httpx.Response, call: HttpCall, scrub: Scrubber) -> Any:
    """The JSON of a family answer, or raise the mapped :class:`HaoeeError`.

    Non-2xx answers are errors (their body read for a code: OpenAI ``{"error": {...}}``,
    ``{code, message}``, MiniMax ``base_resp``); a 2xx body that is not JSON is a
    transport error; a 2xx envelope whose code is not success is an error too.
    """
    status = response.status_code
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    try:
        payload = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        payload = None
    adapter = adapter_named(call.family)
    if status >= 300:
        code, message, request_id = error_fields(payload)
        if message is None:
            snippet = scrub(response.text[:400])[:200] if payload is None else "JSON"
            message = f"{call.label} answered HTTP {status}: {snippet!r}"
        raise classify_error(
            adapter.errors,
            http_status=status,
            code=code,
            message=scrub(message[:1000])[:500],
            request_id=scrub(request_id) if request_id else None,
            retry_after=retry_after,
            purpose=call.purpose,
        )
    if payload is None:
        snippet = scrub(response.text[:400])[:200]
        raise TransportError(
            f"{call.label} answered HTTP {status} with a body that is not JSON: {snippet!r}",
            http_status=status,
        )
    error = adapter.business_error(payload, call, status)
    if error is not None:
        error.message = scrub(error.message[:1000])[:500]
        if isinstance(error, RateLimitedError) and retry_after is not None:
            error.retry_after = retry_after
        raise error
    return payload


def raise_for_job(state: JobState) -> JobState:
    """A succeeded state with files, or the error a finished-but-unusable job means.

    ``failed`` -> :class:`ContentRejectedError` for a moderation refusal, else
    :class:`TaskFailedError` (polling again answers the same: only a new submission helps).
    """
    if state.status == "failed":
        text = f"{state.family} job {state.job_id} failed: {state.error or 'no reason given'}"
        if state.moderated:
            raise ContentRejectedError(text)
        raise TaskFailedError(text)
    if state.status == "succeeded" and not state.file_urls:
        raise TransportError(f"{state.family} job {state.job_id} succeeded without a file")
    return state
