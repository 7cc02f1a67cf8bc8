"""The frame every simulated call runs in, visual or family: admission, forced faults, counts.

Order, as the gateway: the caller's key (50400) -> per-key QPS/concurrency caps (50429/
50430) -> a forced ``X-Sim-Fault`` that ends the call -> the call's own work. A SimError
answers in the route's error shape; a drop cuts the connection; a simulator bug still
looks like the gateway (a 50500). Every outcome is counted under the call's action.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from prefect_haoee.simulator.actions import Call, DropRequested, apply_forced_first
from prefect_haoee.simulator.codes import SimError
from prefect_haoee.simulator.envelope import DropResponse
from prefect_haoee.simulator.faults import parse_forced

logger = logging.getLogger("prefect_haoee.simulator")

FAULT_HEADER = "x-sim-fault"
Render = Callable[[SimError], Response]


async def guarded(
    call: Call,
    request: Request,
    *,
    analog: str,
    admit: Callable[[], str],
    work: Callable[[], Awaitable[Response]],
    render: Render,
) -> Response:
    """Run ``work`` for an admitted caller (``admit`` gives its key or raises a SimError);
    a forced fault is read as one on ``analog``, the visual action the call behaves like."""
    state = call.state
    key: str | None = None
    try:
        key = admit()
        state.limiter.enter(key)
    except SimError as err:
        state.ledger.record_call(call.action or "-", err.code)
        return render(err)
    try:
        forced = request.headers.get(FAULT_HEADER)
        if forced:
            call.forced = parse_forced(forced, analog)
            await apply_forced_first(call)
        response = await work()
    except SimError as err:
        state.ledger.record_call(call.action, err.code)
        return render(err)
    except DropRequested:
        state.ledger.record_call(call.action, "drop")
        return DropResponse()
    except Exception:
        logger.exception("simulator error on %s", call.action)
        state.ledger.record_call(call.action, 50500)
        return render(SimError(50500, "simulator error"))
    finally:
        state.limiter.leave(key)
    state.ledger.record_call(call.action, call.code)
    return response
