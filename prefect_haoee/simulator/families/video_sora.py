"""Simulated sora 2 "official format" (shapes as in ``client/families/video_sora.py``).

* ``POST /v1/videos`` (JSON or multipart form) -> the video object, ``status: queued``;
* ``GET /v1/videos/{id}`` -> the video object (queued / in_progress / completed / failed
  with ``error: {code, message}``; ``progress`` 0-100);
* ``GET /v1/videos/{id}/content`` (API key required) -> the MP4 bytes once completed,
  for ``url_ttl_s`` after completion.

Errors in OpenAI's shape ``{"error": {message, type, param, code}}``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from prefect_haoee.simulator.codes import SimError
from prefect_haoee.simulator.envelope import json_response
from prefect_haoee.simulator.families import bodies
from prefect_haoee.simulator.families.answers import (
    MODERATION_CODES,
    NOT_FOUND,
    failure_message,
    openai_error,
)
from prefect_haoee.simulator.families.base import SimFamily
from prefect_haoee.simulator.families.call import FamilyCall
from prefect_haoee.simulator.families.jobs import Job, JobStatus, one_video
from prefect_haoee.simulator.media import MediaSpec, render_media

SECONDS = ("4", "8", "12")
SIZES = ("720x1280", "1280x720", "1024x1792", "1792x1024")
STATUS_TEXT = {
    "queued": "queued",
    "running": "in_progress",
    "succeeded": "completed",
    "failed": "failed",
}


FAMILY = SimFamily(
    "sora", openai_error, submits=("sora.create",), polls=("sora.get", "sora.content")
)


def _video(call: FamilyCall, job: Job, status: JobStatus) -> dict[str, Any]:
    progress = 100 if status == "succeeded" else int(call.fam.jobs.progress(job) * 100)
    video: dict[str, Any] = {
        "id": job.job_id,
        "object": "video",
        "model": job.model,
        "status": STATUS_TEXT.get(status, "queued"),
        "progress": min(progress, 99) if status in ("queued", "running") else progress,
        "created_at": int(job.created_wall),
        "completed_at": int(job.created_wall + job.total_s) if status == "succeeded" else None,
        "expires_at": int(job.created_wall + job.total_s + call.state.config.url_ttl_s),
        "seconds": job.meta["seconds"],
        "size": job.meta["size"],
        "remixed_from_video_id": None,
        "error": None,
    }
    if status == "failed" and job.fail_code is not None:
        code = "moderation_blocked" if job.fail_code in MODERATION_CODES else "internal_error"
        video["error"] = {"code": code, "message": failure_message(job.fail_code)}
    return video


@FAMILY.route("POST", "/v1/videos", "sora.create")
async def create(call: FamilyCall, request: Request) -> Response:
    if request.headers.get("content-type", "").lower().startswith("multipart/"):
        form = await bodies.read_form(request, call.state)
        body: dict[str, Any] = dict(form.fields)
    else:
        body = await bodies.read_json(request, call.state)
    model = bodies.require_str(body, "model", optional=True) or "sora-2"
    bodies.require_str(body, "prompt")
    seconds = str(body.get("seconds", "4"))
    if seconds not in SECONDS:
        raise SimError(50200, f"seconds must be one of {list(SECONDS)}, got {seconds!r}")
    size = bodies.require_choice(body, "size", SIZES, "720x1280")
    bodies.moderate(body, call.state, ("input_reference",))
    job = await call.submit_job(
        body,
        model,
        one_video(float(seconds)),
        new_id=lambda: "video_" + call.fam.new_hex(32),
        meta={"seconds": seconds, "size": size},
    )
    return json_response(_video(call, job, "queued"))


@FAMILY.route("GET", "/v1/videos/{video_id}", "sora.get")
async def get_video(call: FamilyCall, request: Request) -> Response:
    status, job, _ = await call.poll(request.path_params["video_id"])
    return json_response(_video(call, job, status))


@FAMILY.route("GET", "/v1/videos/{video_id}/content", "sora.content")
async def content(call: FamilyCall, request: Request) -> Response:
    status, job, fault = await call.poll(request.path_params["video_id"], overhead=False)
    if status != "succeeded":
        raise SimError(NOT_FOUND, f"video {job.job_id} is {STATUS_TEXT[status]}, not completed")
    done = job.created + job.total_s
    forced = job.url_expired or (fault is not None and fault.kind == "expired_url")
    if forced or call.state.clock.monotonic() - done > call.state.config.url_ttl_s:
        raise SimError(NOT_FOUND, f"the content of video {job.job_id} has expired")
    variant = request.query_params.get("variant", "video")
    if variant != "video":
        raise SimError(50200, f"variant {variant!r} is not simulated (only video)")
    spec = job.outputs[0]
    assert isinstance(spec, MediaSpec)
    call.fam.media.served += 1
    return Response(render_media(spec), media_type=spec.media_type)
