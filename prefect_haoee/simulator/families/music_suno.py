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
from prefect_haoee.simulator.families import bodies
from prefect_haoee.simulator.families.answers import gateway_error, relay_ok, relay_task
from prefect_haoee.simulator.families.base import SimFamily
from prefect_haoee.simulator.families.call import FamilyCall
from prefect_haoee.simulator.families.jobs import Job, JobStatus
from prefect_haoee.simulator.media import MediaSpec

CLIPS = 2
CLIP_SECONDS = 8.0
STATUS_TEXT = {
    "queued": "SUBMITTED",
    "running": "IN_PROGRESS",
    "succeeded": "SUCCESS",
    "failed": "FAILURE",
}
CONTINUATION = ("task_id", "continue_at", "continue_clip_id")


FAMILY = SimFamily("suno", gateway_error, submits=("suno.submit",), polls=("suno.fetch",))


def _check(body: dict[str, Any]) -> dict[str, Any]:
    mv = bodies.require_str(body, "mv", optional=True) or "chirp-v4"
    instrumental = body.get("make_instrumental", False)
    if not isinstance(instrumental, bool):
        raise SimError(50204, "make_instrumental must be a boolean")
    if "gpt_description_prompt" in body:
        prompt = bodies.require_str(body, "gpt_description_prompt")
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


@FAMILY.route("POST", "/suno/submit/music", "suno.submit")
async def submit(call: FamilyCall, request: Request) -> Response:
    body = await bodies.read_json(request, call.state)
    meta = _check(body)
    bodies.moderate(body, call.state)
    job = await call.submit_job(
        body,
        meta["mv"],
        lambda hash_: [MediaSpec(f"{hash_}/{i}", "mp3", CLIP_SECONDS) for i in range(CLIPS)],
        new_id=call.fam.new_uuid,
        meta=meta,
    )
    return relay_ok(job.job_id)


def _clip(job: Job, status: JobStatus, i: int, url: str) -> dict[str, Any]:
    done = status == "succeeded"
    return {
        "id": f"{job.job_id[:8]}-clip-{i}",
        "title": job.meta.get("title") or f"Simulated song {i + 1}",
        "status": "complete" if done else "streaming",
        "audio_url": url,
        "image_url": "",
        "video_url": "",
        "model_name": job.model,
        "metadata": {
            "tags": job.meta.get("tags", ""),
            "prompt": job.meta.get("prompt", ""),
            "duration": CLIP_SECONDS if done else None,
            "error_type": None,
            "error_message": None,
        },
    }


@FAMILY.route("GET", "/suno/fetch/{task_id}", "suno.fetch")
async def fetch(call: FamilyCall, request: Request) -> Response:
    status, job, fault = await call.poll(request.path_params["task_id"])
    clips: list[dict[str, Any]] = []
    if status in ("running", "succeeded"):
        urls = call.job_urls(job, fault) if status == "succeeded" else ["" for _ in job.outputs]
        clips = [_clip(job, status, i, url) for i, url in enumerate(urls)]
    task = relay_task(job, status, call.fam.jobs.progress(job), STATUS_TEXT, "MUSIC")
    return relay_ok({**task, "notify_hook": "", "data": clips})
