"""The gateway calls of one item, one small adapter per API, chosen by what a request declares.

The item runner (:mod:`~prefect_haoee.tasks.item_runner`) knows three steps: a paid sync
``generate``, a paid ``submit`` and a free ``wait`` on what submit answered. Each adapter
maps them onto the client's methods and names their committed steps
(``haoee-<step>-<hash>``); the names are those earlier versions committed under, so a
record written by one resumes under another:

| API | generate | submit | wait |
|---|---|---|---|
| volcv (visual) | ``generate`` | ``submit`` | ``wait-<task id>`` |
| families | ``images-generate`` | ``job-submit`` | ``job-wait-<job id>`` |
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Protocol, TypeAlias, cast

from prefect_haoee.client import AsyncHaoeeClient, GeneratedImages
from prefect_haoee.client.families import FamilyRequest, JobHandle, JobState
from prefect_haoee.client.requests.base import VisualRequest
from prefect_haoee.tasks.records import SubmittedGeneration
from prefect_haoee.tasks.request_traits import VISUAL_API, AnyRequest, api_of

Handle: TypeAlias = SubmittedGeneration | JobHandle
"""What a paid submit answered (committed as soon as the gateway accepted it)."""
Answer: TypeAlias = GeneratedImages | JobState
"""A finished answer: its files' URLs (or inline images) are :func:`sources`."""


def to_submitted(
    request: VisualRequest, task_id: str, request_id: str | None
) -> SubmittedGeneration:
    """The committed form of an accepted submission: the task id and what a poll sends."""
    return SubmittedGeneration(
        **request.model_dump(include={"req_key", "return_url", "logo_info"}),
        request_hash=request.request_hash,
        seed=request.seed_value,
        deterministic=request.is_deterministic,
        task_id=task_id,
        gateway_request_id=request_id,
        submitted_at=datetime.now(timezone.utc),
    )


def sources(answer: Answer) -> list[str]:
    """The answer's files: URLs, or inline base64 images."""
    return answer.sources() if isinstance(answer, GeneratedImages) else list(answer.file_urls)


def handle_id(handle: Handle) -> str:
    return handle.task_id if isinstance(handle, SubmittedGeneration) else handle.job_id


def request_id(found: Handle | Answer) -> str | None:
    """The gateway's request id of a submission or a sync answer, when it sent one."""
    if isinstance(found, SubmittedGeneration):
        return found.gateway_request_id
    return found.request_id if isinstance(found, GeneratedImages) else None


class GatewayCalls(Protocol):
    """The three steps of one API (committed under ``haoee-<step>-<hash>``)."""

    generate_step: str
    submit_step: str
    wait_step: str

    async def generate(self, client: AsyncHaoeeClient, request: AnyRequest) -> GeneratedImages:
        """Paid, synchronous: the finished images."""

    async def submit(self, client: AsyncHaoeeClient, request: AnyRequest) -> Handle:
        """Paid: the accepted task or job."""

    async def wait(self, client: AsyncHaoeeClient, handle: Handle, timeout: float) -> Answer:
        """Free: poll until finished (raise on failed, forgotten, deadline)."""


class VisualCalls:
    """``CVProcess`` / ``CVSync2AsyncSubmitTask`` / ``CVSync2AsyncGetResult``."""

    generate_step, submit_step, wait_step = "generate", "submit", "wait"

    async def generate(self, client: AsyncHaoeeClient, request: AnyRequest) -> GeneratedImages:
        return await client.generate(_visual(request))

    async def submit(self, client: AsyncHaoeeClient, request: AnyRequest) -> Handle:
        visual = _visual(request)
        result = await client.submit(visual)
        return to_submitted(visual, result.task_id, result.request_id)

    async def wait(self, client: AsyncHaoeeClient, handle: Handle, timeout: float) -> Answer:
        if not isinstance(handle, SubmittedGeneration):
            raise TypeError(f"a visual task is waited for by its submission, not {handle!r}")
        return await client.wait(
            handle.req_key, handle.task_id, timeout=timeout, **handle.poll_options()
        )


class FamilyCalls:
    """``generate_images`` / ``submit_job`` / ``wait_job`` of every other family."""

    generate_step, submit_step, wait_step = "images-generate", "job-submit", "job-wait"

    async def generate(self, client: AsyncHaoeeClient, request: AnyRequest) -> GeneratedImages:
        return await client.generate_images(_family(request))

    async def submit(self, client: AsyncHaoeeClient, request: AnyRequest) -> Handle:
        return await client.submit_job(_family(request))

    async def wait(self, client: AsyncHaoeeClient, handle: Handle, timeout: float) -> Answer:
        if not isinstance(handle, JobHandle):
            raise TypeError(f"a family job is waited for by its handle, not {handle!r}")
        return await client.wait_job(handle, timeout=timeout)


VISUAL_CALLS, FAMILY_CALLS = VisualCalls(), FamilyCalls()


def calls_for(request: AnyRequest) -> GatewayCalls:
    """The adapter of the API the request declares (:func:`~.request_traits.api_of`)."""
    return VISUAL_CALLS if api_of(request) == VISUAL_API else FAMILY_CALLS


def _visual(request: AnyRequest) -> VisualRequest:
    # The client's methods are typed on each API's base; the adapter was chosen by the API
    # the request declares, which is checked again here instead of its class.
    if api_of(request) != VISUAL_API:
        raise TypeError(f"{type(request).__name__} is not a volcv request")
    return cast(VisualRequest, request)


def _family(request: AnyRequest) -> FamilyRequest:
    if api_of(request) == VISUAL_API:
        raise TypeError(f"{type(request).__name__} is not a family request")
    return cast(FamilyRequest, request)
