"""Simulated endpoints of the gateway's other families (images, video, music).

``register_families(app, holder)`` adds, next to the visual ``/volcv/v1`` routes:

* ``POST /v1/images/generations``, ``POST /v1/images/edits`` (``?async=true`` too),
  ``GET /v1/images/tasks/{task_id}``;
* ``POST /v1/videos``, ``GET /v1/videos/{id}``, ``GET /v1/videos/{id}/content`` (sora);
* ``POST /minimax/v1/video_generation``, ``GET /minimax/v1/query/video_generation``,
  ``GET /minimax/v1/files/retrieve``;
* ``POST /kling/v1/videos/{text2video|image2video}``, ``GET /kling/v1/videos/{kind}/{id}``;
* ``POST /suno/submit/music``, ``GET /suno/fetch/{task_id}``;
* ``GET /files/media/{name}`` (MP4/MP3 results behind expiring links);
* ``POST /_sim/families/fault_script`` (``{"fault_script": {"sora.create:1": "429"}}``:
  exact faults for family actions, until the next reset) and ``GET /_sim/families/jobs``.

Same auth, limits, fault injection and ledger as the visual family (see ``base``).

Adding a family is one module here, listed once in :data:`FAMILIES` below: it declares
``FAMILY = SimFamily(name, error_body, syncs=..., submits=..., polls=...)`` and its
handlers with ``@FAMILY.route(method, path, action)``. A handler checks the body
(``bodies``), then calls ``call.submit_job`` (fault draw, job, billing) or
``call.poll`` (fault draw, the job or a 404) and renders the family's answer
(``answers`` has the gateway relay's task object and the OpenAI/relay error bodies).
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from prefect_haoee.simulator.checks import parse_json_object
from prefect_haoee.simulator.codes import SimError
from prefect_haoee.simulator.envelope import json_response
from prefect_haoee.simulator.families import (
    music_suno,
    openai_images,
    video_kling,
    video_minimax,
    video_sora,
)
from prefect_haoee.simulator.families.base import SimFamily, endpoint
from prefect_haoee.simulator.families.faults import check_script
from prefect_haoee.simulator.families.state import FamilyBox
from prefect_haoee.simulator.media import render_media
from prefect_haoee.simulator.state import SimState

__all__ = ["FAMILIES", "FAMILY_ACTIONS", "SimFamily", "register_families"]

FAMILIES: tuple[SimFamily, ...] = (
    openai_images.FAMILY,
    video_sora.FAMILY,
    video_minimax.FAMILY,
    video_kling.FAMILY,
    music_suno.FAMILY,
)
FAMILY_ACTIONS: dict[str, str] = {a: k for f in FAMILIES for a, k in f.actions.items()}
"""Every family action -> the visual action it behaves like (for fault eligibility)."""


def register_families(
    app: Starlette,
    holder: dict[str, SimState],
    families: Sequence[SimFamily] = FAMILIES,
) -> None:
    """Add the routes of ``families`` (default: all of ``FAMILIES``) to ``app``;
    ``holder["state"]`` is the current run."""
    actions = {a: k for f in families for a, k in f.actions.items()}
    box = FamilyBox(holder, actions)
    for family in families:
        for route in family.routes:
            app.add_route(route.path, endpoint(box, family, route), methods=[route.method])

    async def media_file(request: Request) -> Response:
        name: str = request.path_params["name"]
        status, record = box.get().media.lookup(name)
        if status == "not_found" or record is None:
            return json_response({"error": "not_found", "message": f"no such file {name!r}"}, 404)
        if status == "expired":
            ttl = box.get().sim.config.url_ttl_s
            body = {"error": "expired", "message": f"this URL has expired (url_ttl_s={ttl:g})"}
            return json_response(body, 403)
        return Response(render_media(record.payload), media_type=record.payload.media_type)

    async def fault_script(request: Request) -> Response:
        try:
            options = parse_json_object(await request.body())
            script = options.get("fault_script")
            if not isinstance(script, dict):
                raise ValueError("fault_script must be an object")
            checked = check_script(script, actions)
        except (SimError, ValueError) as err:
            return json_response({"error": str(err)}, 400)
        faults = box.get().faults
        faults.script.update(checked)
        return json_response({"ok": True, "fault_script": faults.script})

    async def jobs(request: Request) -> Response:
        fam = box.get()
        return json_response(
            {"jobs_by_status": fam.jobs.counts(), "media_served": fam.media.served}
        )

    app.add_route("/files/media/{name}", media_file, methods=["GET"])
    app.add_route("/_sim/families/fault_script", fault_script, methods=["POST"])
    app.add_route("/_sim/families/jobs", jobs, methods=["GET"])
