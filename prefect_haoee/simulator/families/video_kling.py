"""Simulated Kling video (shapes as in ``client/families/video_kling.py``).

* ``POST /kling/v1/videos/{text2video|image2video}`` -> ``{code: 0, message: "SUCCEED",
  request_id, data: {task_id, task_status: "submitted", created_at, updated_at}}``;
* ``GET /kling/v1/videos/{text2video|image2video}/{task_id}`` -> ``data.task_status``
  submitted/processing/succeed/failed, ``task_status_msg``,
  ``task_result.videos[{id, url, duration}]`` (a task answers only under its own kind).

Errors in Kling's shape ``{code: <int>, message, request_id, data: null}``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from prefect_haoee.simulator.codes import SimError
from prefect_haoee.simulator.envelope import json_response
from prefect_haoee.simulator.families import bodies
from prefect_haoee.simulator.families.answers import MODERATION_CODES, NOT_FOUND, failure_message
from prefect_haoee.simulator.families.base import SimFamily
from prefect_haoee.simulator.families.call import FamilyCall
from prefect_haoee.simulator.families.jobs import Job, JobStatus, one_video

VARIANTS = ("text2video", "image2video")
STATUS_TEXT = {
    "queued": "submitted",
    "running": "processing",
    "succeeded": "succeed",
    "failed": "failed",
}
KLING_CODES = {50429: 1302, 50430: 1303, 50500: 5000, 50501: 5000, 50400: 1000, NOT_FOUND: 1203}


def kling_error(err: SimError, request_id: str) -> dict[str, Any]:
    code = KLING_CODES.get(err.code)
    if code is None:
        code = 1301 if err.code in MODERATION_CODES else 1201
    return {"code": code, "message": err.message, "request_id": request_id, "data": None}


FAMILY = SimFamily(
    "kling",
    kling_error,
    submits=("kling.text2video", "kling.image2video"),
    polls=("kling.query",),
)


def _ok(call: FamilyCall, data: dict[str, Any]) -> Response:
    return json_response(
        {"code": 0, "message": "SUCCEED", "request_id": call.request_id, "data": data}
    )


def _task(call: FamilyCall, job: Job, status: JobStatus) -> dict[str, Any]:
    created = int(job.created_wall * 1000)
    task: dict[str, Any] = {
        "task_id": job.job_id,
        "task_status": STATUS_TEXT[status],
        "task_status_msg": "",
        "created_at": created,
        "updated_at": created + int(job.total_s * 1000) if status != "queued" else created,
    }
    if status == "failed" and job.fail_code is not None:
        task["task_status_msg"] = failure_message(job.fail_code)
    return task


def _variant(request: Request) -> str:
    variant: str = request.path_params["variant"]
    if variant not in VARIANTS:
        raise SimError(NOT_FOUND, f"no Kling endpoint {variant!r}")
    return variant


def _create_action(request: Request) -> str:
    variant = request.path_params.get("variant")
    return f"kling.{variant}" if variant in VARIANTS else "kling.text2video"


@FAMILY.route("POST", "/kling/v1/videos/{variant}", _create_action)
async def create(call: FamilyCall, request: Request) -> Response:
    variant = _variant(request)
    body = await bodies.read_json(request, call.state)
    model = bodies.require_str(body, "model_name", optional=True)
    model = model or bodies.required_str(body, "model")
    if variant == "text2video":
        bodies.require_str(body, "prompt")
        bodies.require_choice(body, "aspect_ratio", ("16:9", "9:16", "1:1"), "16:9")
    else:
        bodies.require_str(body, "image")
        bodies.require_str(body, "prompt", optional=True)
    bodies.require_choice(body, "mode", ("std", "pro"), "std")
    duration = str(body.get("duration", "5"))
    if duration not in ("5", "10"):
        raise SimError(50200, f"duration must be 5 or 10, got {duration!r}")
    scale = body.get("cfg_scale")
    if scale is not None and (not isinstance(scale, (int, float)) or not 0 <= scale <= 1):
        raise SimError(50200, "cfg_scale must be a number in 0..1")
    bodies.moderate(body, call.state)
    job = await call.submit_job(
        body, model, one_video(float(duration)), variant=variant, meta={"duration": duration}
    )
    return _ok(call, _task(call, job, "queued"))


@FAMILY.route("GET", "/kling/v1/videos/{variant}/{task_id}", "kling.query")
async def query(call: FamilyCall, request: Request) -> Response:
    variant = _variant(request)
    status, job, fault = await call.poll(request.path_params["task_id"], variant)
    task = _task(call, job, status)
    if status == "succeeded":
        urls = call.job_urls(job, fault)
        task["task_result"] = {
            "videos": [
                {"id": f"{job.job_id}-{i}", "url": url, "duration": job.meta["duration"]}
                for i, url in enumerate(urls)
            ]
        }
    return _ok(call, task)
