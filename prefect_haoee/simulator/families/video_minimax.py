"""Simulated MiniMax Hailuo video (shapes as in ``client/families/video_minimax.py``).

* ``POST /minimax/v1/video_generation`` -> upstream ``{task_id, base_resp}``;
* ``GET /minimax/v1/query/video_generation?task_id=`` -> the gateway task object
  ``{code: "success", message, data: {task_id, action, status SUBMITTED/IN_PROGRESS/
  SUCCESS/FAILURE, fail_reason, submit_time, start_time, finish_time, progress,
  data: {file: {bytes, file_id, purpose, filename, created_at}} | null}}``;
* ``GET /minimax/v1/files/retrieve?file_id=`` -> upstream ``{file: {..., download_url},
  base_resp}``, the link an expiring ``/files/media/{id}.mp4``.

Errors in the gateway's task-relay shape ``{code: "<text>", message, data: null}``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from prefect_haoee.simulator.codes import SimError
from prefect_haoee.simulator.envelope import json_response
from prefect_haoee.simulator.families import bodies
from prefect_haoee.simulator.families.answers import (
    NOT_FOUND,
    gateway_error,
    relay_ok,
    relay_task,
)
from prefect_haoee.simulator.families.base import SimFamily
from prefect_haoee.simulator.families.call import FamilyCall
from prefect_haoee.simulator.families.jobs import Job, one_video
from prefect_haoee.simulator.media import MediaSpec, render_media

STATUS_TEXT = {
    "queued": "SUBMITTED",
    "running": "IN_PROGRESS",
    "succeeded": "SUCCESS",
    "failed": "FAILURE",
}
OK = {"status_code": 0, "status_msg": "success"}


FAMILY = SimFamily(
    "minimax", gateway_error, submits=("minimax.create",), polls=("minimax.query", "minimax.file")
)


def _query_param(request: Request, name: str) -> str:
    value = request.query_params.get(name)
    if not value:
        raise SimError(50201, f"query parameter {name} is required")
    return value


def _file(job: Job, file_id: str) -> dict[str, Any]:
    spec = job.outputs[0]
    assert isinstance(spec, MediaSpec)
    return {
        "file_id": file_id,
        "bytes": len(render_media(spec)),
        "created_at": int(job.created_wall + job.total_s),
        "filename": "output.mp4",
        "purpose": "video_generation",
    }


@FAMILY.route("POST", "/minimax/v1/video_generation", "minimax.create")
async def create(call: FamilyCall, request: Request) -> Response:
    body = await bodies.read_json(request, call.state)
    model = bodies.required_str(body, "model")
    bodies.require_str(body, "prompt", optional=True)
    image = bodies.require_str(body, "first_frame_image", optional=True)
    if image is None and "fast" in model.lower():
        raise SimError(50201, f"{model} is image-to-video only: first_frame_image is required")
    if image is None and body.get("prompt") is None:
        raise SimError(50201, "prompt or first_frame_image is required")
    duration = bodies.require_choice(body, "duration", (6, 10), 6)
    bodies.require_choice(body, "resolution", ("768P", "1080P"), "768P")
    bodies.moderate(body, call.state)
    job = await call.submit_job(body, model, one_video(float(duration)), file_id=True)
    return json_response({"task_id": job.job_id, "base_resp": OK})


@FAMILY.route("GET", "/minimax/v1/query/video_generation", "minimax.query")
async def query(call: FamilyCall, request: Request) -> Response:
    task_id = _query_param(request, "task_id")
    status, job, _ = await call.poll(task_id)
    progress = call.fam.jobs.progress(job)
    task = relay_task(job, status, progress, STATUS_TEXT, "MINIMAX_VIDEO_GENERATION")
    if status == "succeeded":
        task["data"] = {"file": _file(job, job.file_ids[0])}
    return relay_ok(task)


@FAMILY.route("GET", "/minimax/v1/files/retrieve", "minimax.file")
async def retrieve(call: FamilyCall, request: Request) -> Response:
    file_id = _query_param(request, "file_id")
    fault = await call.decide()
    await call.state.api_overhead()
    job = call.fam.jobs.by_file_id(file_id)
    if job is None or call.fam.jobs.status_of(job) != "succeeded":
        raise SimError(NOT_FOUND, f"file {file_id!r} not found")
    found = {**_file(job, file_id), "download_url": call.job_urls(job, fault)[0]}
    return json_response({"file": found, "base_resp": OK})
