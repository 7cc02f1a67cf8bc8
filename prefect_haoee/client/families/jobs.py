"""The families' request unions and the registry's adapters, without I/O.

The job protocol itself (generate, submit, poll) is written once in
:class:`~prefect_haoee.client.families.base.FamilyAdapter`; the helpers here find the
adapter that the registry holds for a request or a handle.
"""

from __future__ import annotations

from typing import Any

from prefect_haoee.client.calls import HttpCall
from prefect_haoee.client.families import base as fam
from prefect_haoee.client.families.base import needs_file_lookup, raise_for_job
from prefect_haoee.client.families.music_suno import (
    SunoCustomRequest,
    SunoInspirationRequest,
)
from prefect_haoee.client.families.openai_images import (
    ImageEditRequest,
    ImageGenerationRequest,
)
from prefect_haoee.client.families.video_kling import (
    KlingImage2VideoRequest,
    KlingText2VideoRequest,
)
from prefect_haoee.client.families.video_minimax import MinimaxVideoRequest
from prefect_haoee.client.families.video_sora import SoraVideoRequest
from prefect_haoee.client.kinds import MEDIA_OF_KIND, MediaType
from prefect_haoee.client.registry import family_named

__all__ = [
    "MEDIA_OF_KIND",
    "ImagesRequest",
    "JobRequest",
    "MediaType",
    "adapter_for",
    "adapter_named",
    "file_call",
    "file_url",
    "job_handle",
    "job_state",
    "needs_file_lookup",
    "poll_call",
    "raise_for_job",
    "submit_call",
]

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
"""The built-in families' requests: a union for typing and for parsing saved work items.
``submit_job`` takes any request; a family added by an adapter module alone is not in
this union (its requests pass as a ``FamilyRequest``)."""

ImagesRequest = ImageGenerationRequest | ImageEditRequest
"""What ``generate_images`` takes."""


def adapter_named(family: str) -> fam.FamilyAdapter:
    """The adapter the registry holds for ``family`` (``ValueError`` if none)."""
    adapter = family_named(family).adapter
    if not isinstance(adapter, fam.FamilyAdapter):
        raise ValueError(f"the {family} family has no job adapter")
    return adapter


def adapter_for(request: fam.FamilyRequest) -> fam.FamilyAdapter:
    adapter = adapter_named(request.family)
    adapter.check_request(request)
    return adapter


def submit_call(request: fam.FamilyRequest, *, webhook: str | None = None) -> HttpCall:
    return adapter_named(request.family).job_call(request, webhook=webhook)


def job_handle(request: fam.FamilyRequest, payload: Any) -> fam.JobHandle:
    return adapter_for(request).submitted(request, payload)


def poll_call(handle: fam.JobHandle) -> HttpCall:
    return adapter_named(handle.family).poll_call(handle)


def job_state(handle: fam.JobHandle, payload: Any, base_url: str) -> fam.JobState:
    return adapter_named(handle.family).parse_poll(payload, handle, base_url)


def file_call(handle: fam.JobHandle, file_id: str) -> HttpCall:
    return adapter_named(handle.family).file_call(handle, file_id)


def file_url(handle: fam.JobHandle, payload: Any) -> str:
    return adapter_named(handle.family).parse_file(payload)
