"""The family-agnostic job protocol, without I/O: which family a request speaks, how a
call's answer is read, and what a finished job means.

Shared by the sync and async clients (``submit_job``/``get_job``/``wait_job``/
``generate_images``), so both behave the same byte for byte.
"""

from __future__ import annotations

from typing import Any, Literal

from prefect_haoee.client.calls import HttpCall
from prefect_haoee.client.errors import ContentRejectedError, TaskFailedError, TransportError
from prefect_haoee.client.families import base as fam
from prefect_haoee.client.families.music_suno import (
    SunoCustomRequest,
    SunoInspirationRequest,
)
from prefect_haoee.client.families.openai_images import ADAPTER as OPENAI_IMAGES
from prefect_haoee.client.families.openai_images import (
    ImageEditRequest,
    ImageGenerationRequest,
    images_from_answer,
)
from prefect_haoee.client.families.video_kling import (
    KlingImage2VideoRequest,
    KlingText2VideoRequest,
)
from prefect_haoee.client.families.video_minimax import MinimaxVideoRequest
from prefect_haoee.client.families.video_sora import SoraVideoRequest
from prefect_haoee.client.registry import family_named
from prefect_haoee.client.responses import GeneratedImages

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

MediaType = Literal["video", "audio"]
MEDIA_OF_KIND: dict[fam.MediaKind, MediaType | None] = {
    "image": None,
    "video": "video",
    "music": "audio",
}
"""The ``download_media`` kind of a job's files (images go through ``download``)."""


def adapter_named(family: str) -> fam.FamilyAdapter:
    """The adapter the registry holds for ``family`` (``ValueError`` if none)."""
    adapter = family_named(family).adapter
    if not isinstance(adapter, fam.FamilyAdapter):
        raise ValueError(f"the {family} family has no job adapter")
    return adapter


def adapter_for(request: fam.FamilyRequest) -> fam.FamilyAdapter:
    adapter = adapter_named(request.family)
    if not isinstance(request, adapter.request_types):
        raise TypeError(f"{type(request).__name__} is not a {request.family} request")
    return adapter


def submit_call(request: fam.FamilyRequest, *, webhook: str | None = None) -> HttpCall:
    adapter = adapter_for(request)
    if webhook is not None and not adapter.supports_webhook:
        raise ValueError(f"the {adapter.family} family takes no webhook")
    return adapter.submit_call(request, webhook=webhook)


def images_call(request: fam.FamilyRequest) -> HttpCall:
    if not isinstance(request, (ImageGenerationRequest, ImageEditRequest)):
        raise TypeError(f"generate_images takes an images request, not {type(request).__name__}")
    return OPENAI_IMAGES.generate_call(request)


def images_answer(payload: Any) -> GeneratedImages:
    images = images_from_answer(payload)
    if images.count == 0:
        raise TransportError("the images call succeeded without an image")
    return images


def job_handle(request: fam.FamilyRequest, payload: Any) -> fam.JobHandle:
    adapter = adapter_for(request)
    return adapter.handle_for(request, adapter.parse_submit(payload))


def poll_call(handle: fam.JobHandle) -> HttpCall:
    return adapter_named(handle.family).poll_call(handle)


def job_state(handle: fam.JobHandle, payload: Any, base_url: str) -> fam.JobState:
    return adapter_named(handle.family).parse_poll(payload, handle, base_url)


def file_call(handle: fam.JobHandle, file_id: str) -> HttpCall:
    return adapter_named(handle.family).file_call(handle, file_id)


def file_url(handle: fam.JobHandle, payload: Any) -> str:
    return adapter_named(handle.family).parse_file(payload)


def needs_file_lookup(state: fam.JobState) -> bool:
    return state.status == "succeeded" and bool(state.file_ids) and not state.file_urls


def raise_for_job(state: fam.JobState) -> fam.JobState:
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
