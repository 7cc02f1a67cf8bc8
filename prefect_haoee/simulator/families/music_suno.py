"""Simulated suno music (shapes as in ``client/families/music_suno.py``).

* ``POST /suno/submit/music`` (inspiration ``{gpt_description_prompt, make_instrumental,
  mv}`` or custom ``{prompt, title, tags, mv}`` [+ continuation]) -> ``{"code":
  "success", "message": "", "data": "<task uuid>"}``;
* ``GET /suno/fetch/{task_id}`` -> ``{code: "success", message, data: {task_id,
  notify_hook, action: "MUSIC", status SUBMITTED/IN_PROGRESS/SUCCESS/FAILURE,
  fail_reason, submit_time, start_time, finish_time, progress, data: [two clips]}}``;
  a clip is ``streaming`` (no audio yet) then ``complete`` with an expiring MP3
  ``audio_url`` (``/files/media/{id}.mp3``).

Errors in the gateway's task-relay shape ``{code: "<text>", message, data: null}``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from prefect_haoee.simulator.codes import SimError
from prefect_haoee.simulator.envelope import json_response
from prefect_haoee.simulator.families.common import (
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
    require_str,
    task_times,
)
from prefect_haoee.simulator.media import MediaSpec

FAMILY = "suno"
CLIPS = 2
CLIP_SECONDS = 8.0
STATUS_TEXT = {
    "queued": "SUBMITTED",
    "running": "IN_PROGRESS",
    "succeeded": "SUCCESS",
    "failed": "FAILURE",
}
CONTINUATION = ("task_id", "continue_at", "continue_clip_id")


def _check(body: dict[str, Any]) -> dict[str, Any]:
    mv = require_str(body, "mv", optional=True) or "chirp-v4"
    instrumental = body.get("make_instrumental", False)
    if not isinstance(instrumental, bool):
        raise SimError(50204, "make_instrumental must be a boolean")
    if "gpt_description_prompt" in body:
        prompt = require_str(body, "gpt_description_prompt")
        return {"mv": mv, "prompt": prompt, "title": "", "tags": "", "mode": "inspiration"}
    lyrics = body.get("prompt", "")
    if not isinstance(lyrics, str) or (not lyrics.strip() and not instrumental):
        raise SimError(50201, "custom mode needs prompt (lyrics) or make_instrumental")
    for name in ("title", "tags"):
        if not isinstance(body.get(name, ""), str):
            raise SimError(50204, f"{name} must be a string")
    given = [k for k in CONTINUATION if body.get(k) is not None]
    if given and len(given) != len(CONTINUATION):
        raise SimError(50201, "continuation needs task_id, continue_at and continue_clip_id")
    return {
        "mv": mv,
        "prompt": lyrics,
        "title": body.get("title", ""),
        "tags": body.get("tags", ""),
        "mode": "custom",
    }


async def submit(call: FamilyCall, request: Request) -> Response:
    body = await read_json(request, call.state)
    meta = _check(body)
    check_words(body_texts(body), call.state.config.moderation_words)
    fault = await call.decide()
    hash_ = body_hash(body)
    job = call.fam.new_job(
        job_id=call.fam.new_uuid(),
        family=FAMILY,
        model=meta["mv"],
        request_hash=hash_,
        outputs=[MediaSpec(f"{hash_}/{i}", "mp3", CLIP_SECONDS) for i in range(CLIPS)],
        fault=fault,
        meta=meta,
    )
    call.bill(body, meta["mv"], task_id=job.job_id)
    await call.api_overhead()
    return json_response({"code": "success", "message": "", "data": job.job_id})


async def fetch(call: FamilyCall, request: Request) -> Response:
    fault = await call.decide()
    await call.api_overhead()
    status, job = job_or_404(call, request.path_params["task_id"], FAMILY)
    clips: list[dict[str, Any]] = []
    if status in ("running", "succeeded"):
        urls = call.job_urls(job, fault) if status == "succeeded" else ["" for _ in job.outputs]
        for i, url in enumerate(urls):
            clips.append(
                {
                    "id": f"{job.job_id[:8]}-clip-{i}",
                    "title": job.meta.get("title") or f"Simulated song {i + 1}",
                    "status": "complete" if status == "succeeded" else "streaming",
                    "audio_url": url,
                    "image_url": "",
                    "video_url": "",
                    "model_name": job.model,
                    "metadata": {
                        "tags": job.meta.get("tags", ""),
                        "prompt": job.meta.get("prompt", ""),
                        "duration": CLIP_SECONDS if status == "succeeded" else None,
                        "error_type": None,
                        "error_message": None,
                    },
                }
            )
    task: dict[str, Any] = {
        "task_id": job.job_id,
        "notify_hook": "",
        "action": "MUSIC",
        "status": STATUS_TEXT[status],
        "fail_reason": "",
        **task_times(call, job, status),
        "progress": percent(call.fam.jobs.progress(job)),
        "data": clips,
    }
    if status == "failed" and job.fail_code is not None:
        task["fail_reason"] = failure_message(job.fail_code)
    return json_response({"code": "success", "message": "", "data": task})


def routes(box: FamilyBox) -> list[FamilyRoute]:
    return [
        FamilyRoute(
            "/suno/submit/music", ("POST",), endpoint(box, "suno.submit", submit, gateway_error)
        ),
        FamilyRoute(
            "/suno/fetch/{task_id}", ("GET",), endpoint(box, "suno.fetch", fetch, gateway_error)
        ),
    ]
