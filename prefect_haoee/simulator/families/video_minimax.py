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
from prefect_haoee.simulator.families.common import (
    NOT_FOUND,
    FamilyBox,
    FamilyCall,
    FamilyRoute,
    body_hash,
    body_texts,
    check_words,
    endpoint,
    failure_message,
    gateway_error,
    job_or_404,
    percent,
    read_json,
    require_choice,
    require_str,
    task_times,
)
from prefect_haoee.simulator.media import MediaSpec, render_media

FAMILY = "minimax"
STATUS_TEXT = {
    "queued": "SUBMITTED",
    "running": "IN_PROGRESS",
    "succeeded": "SUCCESS",
    "failed": "FAILURE",
}
OK = {"status_code": 0, "status_msg": "success"}


async def create(call: FamilyCall, request: Request) -> Response:
    body = await read_json(request, call.state)
    model = require_str(body, "model")
    assert model is not None
    require_str(body, "prompt", optional=True)
    image = require_str(body, "first_frame_image", optional=True)
    if image is None and "fast" in model.lower():
        raise SimError(50201, f"{model} is image-to-video only: first_frame_image is required")
    if image is None and body.get("prompt") is None:
        raise SimError(50201, "prompt or first_frame_image is required")
    duration = require_choice(body, "duration", (6, 10), 6)
    require_choice(body, "resolution", ("768P", "1080P"), "768P")
    check_words(body_texts(body), call.state.config.moderation_words)
    fault = await call.decide()
    hash_ = body_hash(body)
    job = call.fam.new_job(
        job_id=call.fam.new_digits(18),
        family=FAMILY,
        model=model,
        request_hash=hash_,
        outputs=[MediaSpec(hash_, "mp4", float(duration))],
        fault=fault,
    )
    job.file_ids.append(call.fam.new_digits(18))
    call.bill(body, model, task_id=job.job_id)
    await call.api_overhead()
    return json_response({"task_id": job.job_id, "base_resp": OK})


async def query(call: FamilyCall, request: Request) -> Response:
    task_id = request.query_params.get("task_id")
    if not task_id:
        raise SimError(50201, "query parameter task_id is required")
    await call.decide()
    await call.api_overhead()
    status, job = job_or_404(call, task_id, FAMILY)
    task: dict[str, Any] = {
        "task_id": job.job_id,
        "action": "MINIMAX_VIDEO_GENERATION",
        "status": STATUS_TEXT[status],
        "fail_reason": failure_message(job.fail_code)
        if status == "failed" and job.fail_code
        else "",
        **task_times(call, job, status),
        "progress": percent(call.fam.jobs.progress(job)),
        "data": None,
    }
    if status == "succeeded":
        spec = job.outputs[0]
        assert isinstance(spec, MediaSpec)
        task["data"] = {
            "file": {
                "bytes": len(render_media(spec)),
                "file_id": job.file_ids[0],
                "purpose": "video_generation",
                "filename": "output.mp4",
                "created_at": task["finish_time"],
            }
        }
    return json_response({"code": "success", "message": "", "data": task})


async def retrieve(call: FamilyCall, request: Request) -> Response:
    file_id = request.query_params.get("file_id")
    if not file_id:
        raise SimError(50201, "query parameter file_id is required")
    fault = await call.decide()
    await call.api_overhead()
    job = call.fam.jobs.by_file_id(file_id)
    if job is None or call.fam.jobs.status_of(job) != "succeeded":
        raise SimError(NOT_FOUND, f"file {file_id!r} not found")
    spec = job.outputs[0]
    assert isinstance(spec, MediaSpec)
    return json_response(
        {
            "file": {
                "file_id": file_id,
                "bytes": len(render_media(spec)),
                "created_at": int(job.created_wall + job.total_s),
                "filename": "output.mp4",
                "purpose": "video_generation",
                "download_url": call.job_urls(job, fault)[0],
            },
            "base_resp": OK,
        }
    )


def routes(box: FamilyBox) -> list[FamilyRoute]:
    return [
        FamilyRoute(
            "/minimax/v1/video_generation",
            ("POST",),
            endpoint(box, "minimax.create", create, gateway_error),
        ),
        FamilyRoute(
            "/minimax/v1/query/video_generation",
            ("GET",),
            endpoint(box, "minimax.query", query, gateway_error),
        ),
        FamilyRoute(
            "/minimax/v1/files/retrieve",
            ("GET",),
            endpoint(box, "minimax.file", retrieve, gateway_error),
        ),
    ]
