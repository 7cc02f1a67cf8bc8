"""What a simulated family declares (:class:`SimFamily`) and how its routes are served.

Every family route goes through :func:`endpoint`, which does what the visual ``/volcv/v1``
handler does, in the same order: auth (50400) -> per-key QPS/concurrency caps (50429/
50430) -> a forced ``X-Sim-Fault`` that ends the call -> the family handler (its checks,
moderation words, one seeded fault draw, billing, latency, answer). Errors are SimErrors
(the simulator's code table) rendered in the family's own error shape.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from prefect_haoee.simulator.actions import DropRequested, apply_fault
from prefect_haoee.simulator.codes import SimError
from prefect_haoee.simulator.envelope import DropResponse, json_response, new_request_id
from prefect_haoee.simulator.families.answers import NOT_FOUND
from prefect_haoee.simulator.families.call import FamilyCall
from prefect_haoee.simulator.families.state import FamilyBox
from prefect_haoee.simulator.faults import parse_forced
from prefect_haoee.simulator.http import api_key_of, base_url_of

logger = logging.getLogger("prefect_haoee.simulator")

FAULT_HEADER = "x-sim-fault"
ErrorBody = Callable[[SimError, str], dict[str, Any]]
Handler = Callable[[FamilyCall, Request], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Route:
    """``method path`` served by ``handler`` as ``action`` (a name, or one per request)."""

    method: str
    path: str
    action: str | Callable[[Request], str]
    handler: Handler


@dataclass(frozen=True)
class SimFamily:
    """A simulated family: its name (the jobs' family), its actions, routes, error shape.

    ``actions`` maps each family action to the visual action it behaves like (``SYNC``,
    ``SUBMIT_LIKE`` or ``POLL_LIKE`` of ``families.faults``): which faults apply to it.
    """

    name: str
    actions: Mapping[str, str]
    routes: tuple[Route, ...]
    error: ErrorBody


def error_response(err: SimError, request_id: str, render: ErrorBody) -> Response:
    headers = {"Retry-After": str(err.retry_after)} if err.retry_after is not None else None
    status = 404 if err.code == NOT_FOUND else err.http_status
    return json_response(render(err, request_id), status, headers)


def endpoint(box: FamilyBox, family: SimFamily, route: Route) -> Endpoint:
    """A Starlette endpoint running ``route`` with auth, limits, faults and counters."""
    render = family.error

    async def run(request: Request) -> Response:
        fam = box.get()
        state = fam.sim
        name = route.action(request) if callable(route.action) else route.action
        request_id = new_request_id()
        call = FamilyCall(
            state, fam, family.name, name, base_url_of(request), request_id, time.perf_counter()
        )
        key: str | None = None
        try:
            key = api_key_of(request, state.config.api_keys)
            state.limiter.enter(key)
        except SimError as err:
            state.ledger.record_call(name, err.code)
            return error_response(err, request_id, render)
        try:
            forced = request.headers.get(FAULT_HEADER)
            if forced:
                call.forced = parse_forced(forced, call.analog)
                if call.forced is not None and call.forced.kind in ("error", "drop", "slow"):
                    await apply_fault(call.visual(), call.forced)
            response = await route.handler(call, request)
        except SimError as err:
            state.ledger.record_call(name, err.code)
            return error_response(err, request_id, render)
        except DropRequested:
            state.ledger.record_call(name, "drop")
            return DropResponse()
        except Exception:
            logger.exception("simulator error on %s", name)
            state.ledger.record_call(name, 50500)
            return error_response(SimError(50500, "simulator error"), request_id, render)
        finally:
            state.limiter.leave(key)
        state.ledger.record_call(name, call.code)
        return response

    return run
