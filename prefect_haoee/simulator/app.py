"""The FastAPI app: routes, auth, limits, and the ``/_sim`` control endpoints.

* ``POST /volcv/v1?Action=..&Version=2022-08-31`` — the Haoee path (API key required);
* ``POST /?Action=..&Version=..`` — the upstream path the official ``volcengine`` SDK
  calls (its signature is not checked);
* ``GET /files/{name}`` — result images behind expiring URLs;
* ``GET /_sim/stats``, ``GET /_sim/ledger``, ``GET /_sim/config``, ``POST /_sim/reset``,
  ``POST /_sim/clock/advance`` — observe and steer a run.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping, Sequence

from fastapi import FastAPI, Request
from starlette.responses import Response

from prefect_haoee.client.catalog import CATALOG, ModelSpec
from prefect_haoee.simulator.actions import HANDLERS, Call
from prefect_haoee.simulator.checks import parse_json_object
from prefect_haoee.simulator.clock import SimClock
from prefect_haoee.simulator.codes import SimError
from prefect_haoee.simulator.config import SimulatorConfig
from prefect_haoee.simulator.envelope import error_response, json_response, new_request_id
from prefect_haoee.simulator.families import FAMILIES, SimFamily, register_families
from prefect_haoee.simulator.faults import install_drop_log_filter
from prefect_haoee.simulator.guard import guarded
from prefect_haoee.simulator.http import api_key_of, base_url_of, read_limited
from prefect_haoee.simulator.state import SimState

logger = logging.getLogger("prefect_haoee.simulator")

VERSION = "2022-08-31"
_AK_RE = re.compile(r"Credential=([^/,\s]+)")


def _sdk_key(request: Request) -> str:
    """Limits on the upstream path are per access key (from the unverified signature)."""
    match = _AK_RE.search(request.headers.get("authorization", ""))
    return f"ak:{match.group(1)}" if match else "anonymous"


def create_app(
    config: SimulatorConfig | None = None,
    *,
    catalog: Mapping[str, ModelSpec] | None = None,
    families: Sequence[SimFamily] = FAMILIES,
) -> FastAPI:
    """Build the simulator app. ``catalog`` defaults to the client's shared catalog,
    ``families`` to every family of ``simulator.families`` (a test adds its own)."""
    install_drop_log_filter()
    cfg = config or SimulatorConfig()
    models: Mapping[str, ModelSpec] = CATALOG if catalog is None else catalog
    app = FastAPI(
        title="Haoee gateway simulator",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    holder: dict[str, SimState] = {"state": SimState(cfg, models)}
    max_body = int(cfg.max_body_mb * 1024 * 1024)

    async def handle(request: Request, *, upstream: bool) -> Response:
        state = holder["state"]
        action = request.query_params.get("Action", "")
        call = Call(state, action, base_url_of(request), new_request_id(), time.perf_counter())

        def admit() -> str:
            key = _sdk_key(request) if upstream else api_key_of(request, state.config.api_keys)
            if not action:
                raise SimError(50201, "query parameter Action is required")
            if action not in HANDLERS:
                raise SimError(50402, f"unknown Action {action!r}")
            version = request.query_params.get("Version")
            if version is not None and version != VERSION:
                raise SimError(50402, f"Action {action} has no Version {version!r}")
            return key

        async def work() -> Response:
            body = parse_json_object(await read_limited(request, max_body))
            return await HANDLERS[action](call, body)

        def render(err: SimError) -> Response:
            return error_response(err, request_id=call.request_id, elapsed_s=call.elapsed())

        return await guarded(call, request, analog=action, admit=admit, work=work, render=render)

    # Plain Starlette routes (no FastAPI dependency solving) on the hot paths.
    async def volcv(request: Request) -> Response:
        return await handle(request, upstream=False)

    async def upstream(request: Request) -> Response:
        return await handle(request, upstream=True)

    async def files(request: Request) -> Response:
        name: str = request.path_params["name"]
        state = holder["state"]
        status, record = state.files.lookup(name)
        if status == "not_found" or record is None:
            body = {"error": "not_found", "message": f"no such file {name!r}"}
            return json_response(body, 404)
        if status == "expired":
            ttl = state.config.url_ttl_s
            body = {"error": "expired", "message": f"this URL has expired (url_ttl_s={ttl:g})"}
            return json_response(body, 403)
        data = await state.images.get(record.payload)
        return Response(data, media_type=record.payload.media_type)

    app.add_route("/volcv/v1", volcv, methods=["POST"])
    app.add_route("/", upstream, methods=["POST"])
    app.add_route("/files/{name}", files, methods=["GET"])
    register_families(app, holder, families)  # images, video, music (simulator/families/)

    @app.get("/_sim/stats")
    async def stats() -> Response:
        return json_response(holder["state"].stats())

    @app.get("/_sim/ledger")
    async def ledger() -> Response:
        return json_response({"entries": holder["state"].ledger.to_json()})

    @app.get("/_sim/config")
    async def show_config() -> Response:
        return json_response(holder["state"].config.public_dict())

    @app.get("/_sim/health")
    async def health() -> Response:
        return json_response({"ok": True})

    @app.post("/_sim/reset")
    async def reset(request: Request) -> Response:
        """Forget everything (ledger, tasks, files, counters, clock offset); reseed."""
        raw = await request.body()
        try:
            options = parse_json_object(raw) if raw.strip() else {}
        except SimError as err:
            return json_response({"error": err.message}, 400)
        current = holder["state"].config
        seed = options.get("seed", current.seed)
        if not isinstance(seed, int) or isinstance(seed, bool):
            return json_response({"error": "seed must be an integer"}, 400)
        new_config = current.model_copy(update={"seed": seed})
        holder["state"] = SimState(new_config, models, SimClock())
        return json_response({"ok": True, "seed": seed})

    @app.post("/_sim/clock/advance")
    async def advance(request: Request) -> Response:
        """Move the simulator clock forward (task progress/expiry, URL expiry, QPS window)."""
        try:
            options = parse_json_object(await request.body())
        except SimError as err:
            return json_response({"error": err.message}, 400)
        seconds = options.get("seconds")
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds < 0:
            return json_response({"error": "seconds must be a number >= 0"}, 400)
        clock = holder["state"].clock
        clock.advance(float(seconds))
        return json_response({"ok": True, "offset_s": clock.offset})

    return app
