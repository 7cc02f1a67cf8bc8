"""Simulated OpenAI-style images (shapes as in ``client/families/openai_images.py``).

* ``POST /v1/images/generations`` (JSON) and ``POST /v1/images/edits`` (multipart):
  sync answers ``{"created", "data": [{"url"} | {"b64_json"}]}`` (+ ``model``/``usage``
  for Seedream); with ``?async=true`` [``&webhook=``] they answer ``{"task_id"}`` (32 hex).
* ``GET /v1/images/tasks/{task_id}``: the GUESS task object ``{code: "success", message,
  data: {task_id, status NOT_START/IN_PROGRESS/SUCCESS/FAILURE, progress, fail_reason,
  submit_time, start_time, finish_time, data: <images answer> | null}}``.
* Errors in OpenAI's shape ``{"error": {message, type, param, code}}``.

Images are the simulator's PNGs, served from ``/files/{id}.png`` like the visual family's.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from prefect_haoee.simulator.codes import SimError
from prefect_haoee.simulator.envelope import json_response
from prefect_haoee.simulator.families import bodies
from prefect_haoee.simulator.families.answers import openai_error, relay_ok, relay_task
from prefect_haoee.simulator.families.base import SimFamily
from prefect_haoee.simulator.families.call import FamilyCall
from prefect_haoee.simulator.families.jobs import Output
from prefect_haoee.simulator.faults import Fault
from prefect_haoee.simulator.images import RenderSpec
from prefect_haoee.simulator.references import first_image_tint

DELIVERY = ("response_format",)
K_SIDES = {"1K": 1024, "2K": 2048, "4K": 4096}
MAX_SIDE = 4096
_WXH = re.compile(r"^(\d{1,5})x(\d{1,5})$")
STATUS_TEXT = {
    "queued": "NOT_START",
    "running": "IN_PROGRESS",
    "succeeded": "SUCCESS",
    "failed": "FAILURE",
}


FAMILY = SimFamily(
    "openai_images",
    openai_error,
    syncs=("images.generations", "images.edits"),
    submits=("images.generations.async", "images.edits.async"),
    polls=("images.tasks.get",),
)


def _dimensions(body: dict[str, Any]) -> tuple[int, int]:
    side = K_SIDES.get(str(body.get("image_size")), 1024)
    size = body.get("size")
    width = height = side
    if isinstance(size, str):
        match = _WXH.match(size)
        if match:
            width, height = int(match.group(1)), int(match.group(2))
        elif size in K_SIDES:
            width = height = K_SIDES[size]
        elif size != "auto":
            raise SimError(50200, f"size {size!r} is neither WxH nor 1K/2K/4K")
    elif size is not None:
        raise SimError(50204, "size must be a string")
    ratio = body.get("aspect_ratio")
    if isinstance(ratio, str) and ":" in ratio and size is None:
        a, _, b = ratio.partition(":")
        if a.isdigit() and b.isdigit() and int(a) and int(b):
            longest = max(width, height)
            if int(a) >= int(b):
                width, height = longest, round(longest * int(b) / int(a))
            else:
                width, height = round(longest * int(a) / int(b)), longest
    return max(16, min(width, MAX_SIDE)), max(16, min(height, MAX_SIDE))


def _check(body: dict[str, Any], call: FamilyCall) -> tuple[str, int, str]:
    model = bodies.required_str(body, "model")
    bodies.require_str(body, "prompt")
    n = body.get("n", 1)
    if not bodies.is_int(n) or not 1 <= n <= 10:
        raise SimError(50200, f"n must be an integer in 1..10, got {n!r}")
    response_format = bodies.require_choice(body, "response_format", ("url", "b64_json"), "url")
    image = body.get("image")
    if image is not None and not isinstance(image, (str, list)):
        raise SimError(50204, "image must be a string or a list of strings")
    bodies.moderate(body, call.state)
    return model, n, response_format


def _renders(
    hash_: str, n: int, size: tuple[int, int], fmt: str, tint: tuple[int, int, int] | None = None
) -> list[Output]:
    """The outputs; ``tint`` (the first reference image's mean colour) shows it was used."""
    return [RenderSpec(f"{hash_}/{i}", size[0], size[1], fmt, tint) for i in range(n)]


async def _items(
    call: FamilyCall, renders: list[Output], response_format: str, urls: list[str] | None
) -> list[dict[str, Any]]:
    if response_format == "b64_json":
        out = []
        for render in renders:
            assert isinstance(render, RenderSpec)
            data = await call.state.images.get(render)
            out.append({"b64_json": base64.b64encode(data).decode("ascii")})
        return out
    return [{"url": u} for u in urls or []]


async def _answer(
    call: FamilyCall,
    body: dict[str, Any],
    model: str,
    n: int,
    response_format: str,
    fault: Fault | None,
) -> Response:
    """The sync answer of a generation or an edit (already billed)."""
    tint = await first_image_tint(body.get("image"))
    hash_ = call.bill(body, model, delivery=DELIVERY)
    await call.sync_latency()
    size = _dimensions(body)
    renders = _renders(hash_, n, size, call.state.config.image_format, tint)
    expired = fault is not None and fault.kind == "expired_url"
    urls = [call.mint(r, forced_expired=expired) for r in renders]
    answer: dict[str, Any] = {
        "created": call.now(),
        "data": await _items(call, renders, response_format, urls),
    }
    if model.startswith("doubao-seedream"):
        answer["model"] = model
        for item in answer["data"]:
            item["size"] = f"{size[0]}x{size[1]}"
        answer["usage"] = {"generated_images": n, "output_tokens": 0, "total_tokens": 0}
    return json_response(answer)


def _is_async(request: Request) -> bool:
    return request.query_params.get("async", "").lower() == "true"


async def _generate(
    call: FamilyCall, request: Request, body: dict[str, Any], variant: str
) -> Response:
    """A checked generation or edit: answered now, or accepted as a task (``?async=true``)."""
    model, n, response_format = _check(body, call)
    if not _is_async(request):
        fault = await call.decide()
        return await _answer(call, body, model, n, response_format, fault)
    tint = await first_image_tint(body.get("image"))
    fmt = call.state.config.image_format
    job = await call.submit_job(
        body,
        model,
        lambda hash_: _renders(hash_, n, _dimensions(body), fmt, tint),
        new_id=call.fam.new_hex,
        delivery=DELIVERY,
        variant=variant,
        meta={"response_format": response_format, "webhook": request.query_params.get("webhook")},
    )
    return json_response({"task_id": job.job_id})


def _action(kind: str) -> Callable[[Request], str]:
    """``images.<kind>``, or ``images.<kind>.async`` for a call with ``?async=true``."""
    return lambda request: f"images.{kind}.async" if _is_async(request) else f"images.{kind}"


@FAMILY.route("POST", "/v1/images/generations", _action("generations"))
async def generations(call: FamilyCall, request: Request) -> Response:
    body = await bodies.read_json(request, call.state)
    return await _generate(call, request, body, "generations")


def _edit_body(fields: dict[str, str], files: list[tuple[str, bytes]]) -> dict[str, Any]:
    """The edit as the client hashes it: fields typed, files as raw base64."""
    body: dict[str, Any] = dict(fields)
    if "n" in body:
        if not body["n"].isdigit():
            raise SimError(50204, "n must be an integer")
        body["n"] = int(body["n"])
    images = [base64.b64encode(d).decode("ascii") for name, d in files if name.startswith("image")]
    masks = [base64.b64encode(d).decode("ascii") for name, d in files if name == "mask"]
    if not images:
        raise SimError(50201, "image is required (a file part named image or image[])")
    body["image"] = images
    if masks:
        body["mask"] = masks[0]
    return body


@FAMILY.route("POST", "/v1/images/edits", _action("edits"))
async def edits(call: FamilyCall, request: Request) -> Response:
    form = await bodies.read_form(request, call.state)
    return await _generate(call, request, _edit_body(form.fields, form.files), "edits")


@FAMILY.route("GET", "/v1/images/tasks/{task_id}", "images.tasks.get")
async def get_task(call: FamilyCall, request: Request) -> Response:
    status, job, fault = await call.poll(request.path_params["task_id"])
    task = relay_task(job, status, call.fam.jobs.progress(job), STATUS_TEXT, "IMAGE")
    if status == "succeeded":
        fmt = str(job.meta.get("response_format", "url"))
        urls = call.job_urls(job, fault) if fmt == "url" else None
        task["data"] = {
            "created": int(job.created_wall + job.total_s),
            "data": await _items(call, job.outputs, fmt, urls),
        }
    return relay_ok(task)
