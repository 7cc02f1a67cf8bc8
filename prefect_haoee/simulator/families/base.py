"""What a simulated family declares (:class:`SimFamily`) and how its routes are served.

Every family route runs in the frame the visual ``/volcv/v1`` handler runs in
(:func:`prefect_haoee.simulator.guard.guarded`: auth, limits, a forced ``X-Sim-Fault``),
then the family handler (its checks, moderation words, one seeded fault draw, billing,
latency, answer). Errors are SimErrors (the simulator's code table) rendered in the
family's own error shape.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from prefect_haoee.simulator.codes import SimError
from prefect_haoee.simulator.envelope import json_response, new_request_id
from prefect_haoee.simulator.families.answers import NOT_FOUND
from prefect_haoee.simulator.families.call import FamilyCall
from prefect_haoee.simulator.families.faults import POLL_LIKE, SUBMIT_LIKE, SYNC
from prefect_haoee.simulator.families.state import FamilyBox
from prefect_haoee.simulator.guard import guarded
from prefect_haoee.simulator.http import api_key_of, base_url_of

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


@dataclass
class SimFamily:
    """A simulated family: its name (the jobs' family), error shape, actions and routes.

    Its actions by the visual action they behave like (which faults apply to them): sync
    generations (``CVProcess``), submits (``CVSync2AsyncSubmitTask``) and polls or file
    lookups (``CVSync2AsyncGetResult``). Handlers join with the :meth:`route` decorator.
    """

    name: str
    error: ErrorBody
    syncs: tuple[str, ...] = ()
    submits: tuple[str, ...] = ()
    polls: tuple[str, ...] = ()
    routes: list[Route] = field(default_factory=list)

    @property
    def actions(self) -> dict[str, str]:
        """Each family action -> the visual action it behaves like."""
        kinds = ((self.syncs, SYNC), (self.submits, SUBMIT_LIKE), (self.polls, POLL_LIKE))
        return {action: analog for names, analog in kinds for action in names}

    def route(
        self, method: str, path: str, action: str | Callable[[Request], str]
    ) -> Callable[[Handler], Handler]:
        """Serve the decorated handler on ``method path`` as ``action``."""

        def register(handler: Handler) -> Handler:
            self.routes.append(Route(method, path, action, handler))
            return handler

        return register


def error_response(err: SimError, request_id: str, render: ErrorBody) -> Response:
    headers = {"Retry-After": str(err.retry_after)} if err.retry_after is not None else None
    status = 404 if err.code == NOT_FOUND else err.http_status
    return json_response(render(err, request_id), status, headers)


def endpoint(box: FamilyBox, family: SimFamily, route: Route) -> Endpoint:
    """A Starlette endpoint running ``route`` with auth, limits, faults and counters."""

    async def run(request: Request) -> Response:
        fam = box.get()
        name = route.action(request) if callable(route.action) else route.action
        call = FamilyCall(
            fam.sim,
            name,
            base_url_of(request),
            new_request_id(),
            time.perf_counter(),
            fam=fam,
            family=family.name,
        )

        def admit() -> str:
            return api_key_of(request, fam.sim.config.api_keys)

        async def work() -> Response:
            return await route.handler(call, request)

        def render(err: SimError) -> Response:
            return error_response(err, call.request_id, family.error)

        return await guarded(
            call, request, analog=call.analog, admit=admit, work=work, render=render
        )

    return run
