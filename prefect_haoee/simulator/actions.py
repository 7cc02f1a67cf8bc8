"""The three visual actions: CVProcess, CVSync2AsyncSubmitTask, CVSync2AsyncGetResult.

Order inside a generation call: checks -> moderation words -> fault decision -> billing
-> latency -> answer. A fault is decided before billing, so a faulted call is free;
``task_fail`` is the exception (an accepted task is billed at submit, as upstream).
"""

from __future__ import annotations

import asyncio
import base64
import time
from dataclasses import dataclass
from typing import Any, Literal

from starlette.responses import Response

from prefect_haoee.simulator.checks import (
    Checked,
    check_generation,
    check_moderation,
    check_poll,
)
from prefect_haoee.simulator.codes import SimError
from prefect_haoee.simulator.envelope import (
    error_response,
    new_data_request_id,
    success_response,
)
from prefect_haoee.simulator.faults import CV_PROCESS, GET_RESULT, SUBMIT, Fault
from prefect_haoee.simulator.images import RenderSpec
from prefect_haoee.simulator.ledger import LedgerEntry, body_seed, request_hash
from prefect_haoee.simulator.references import InputImages, read_inputs
from prefect_haoee.simulator.state import SimState


class DropRequested(Exception):
    """The call must end with a cut connection."""


@dataclass
class Call:
    state: SimState
    action: str
    base_url: str
    """The request's base URL, ending with ``/`` (result links are built from it)."""
    request_id: str
    started: float
    forced: Fault | None = None
    code: int = 10000
    """The code the answer carries (for the call counters)."""

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def ok(self, data: dict[str, Any]) -> Response:
        return success_response(data, request_id=self.request_id, elapsed_s=self.elapsed())


async def apply_fault(call: Call, fault: Fault | None) -> Fault | None:
    """Act on a fault that ends the call; return the ones the action itself handles."""
    if fault is None:
        return None
    call.state.faults.note(fault)
    if fault.kind == "error":
        assert fault.code is not None
        raise SimError(fault.code, "simulated fault")
    if fault.kind == "drop":
        raise DropRequested
    if fault.kind == "slow":
        await asyncio.sleep(call.state.config.slow_response_s)
        raise SimError(50500, "simulated slow upstream")
    return fault


async def apply_forced_first(call: Call) -> None:
    """A forced fault that ends the call acts before the body is even read."""
    if call.forced is not None and call.forced.kind in ("error", "drop", "slow"):
        await apply_fault(call, call.forced)


def _decide(call: Call) -> Fault | None:
    # One draw per request that gets here, even when a header forced a (deferred) fault,
    # so forcing one does not shift the seeded sequence of the following calls.
    drawn = call.state.faults.draw(call.action)
    return call.forced if call.forced is not None else drawn


def _bill(
    call: Call,
    body: dict[str, Any],
    req_key: str,
    task_id: str | None = None,
    inputs: InputImages | None = None,
) -> str:
    hash_ = request_hash(body, inputs.link_digests if inputs else None)
    call.state.ledger.bill(
        LedgerEntry(
            hash=hash_,
            req_key=req_key,
            action=call.action,
            seed=body_seed(body),
            time=call.state.clock.wall(),
            request_id=call.request_id,
            task_id=task_id,
        )
    )
    return hash_


async def _image_b64(state: SimState, render: RenderSpec) -> str:
    return base64.b64encode(await state.images.get(render)).decode("ascii")


def _mint(call: Call, render: RenderSpec, *, forced_expired: bool) -> str:
    expired = call.state.link_expired(forced_expired)
    return call.state.files.mint(render, call.base_url, expired=expired)


async def _accept(
    call: Call, body: dict[str, Any], mode: Literal["sync", "async"]
) -> tuple[Checked, InputImages, Fault | None]:
    """Checks, moderation words, the input images, then the call's one fault decision."""
    cfg = call.state.config
    checked = check_generation(body, call.state.catalog, mode=mode, strict_modes=cfg.strict_modes)
    check_moderation(body, cfg.moderation_words)
    inputs = await read_inputs(body)
    return checked, inputs, await apply_fault(call, _decide(call))


async def cv_process(call: Call, body: dict[str, Any]) -> Response:
    state = call.state
    cfg = state.config
    checked, inputs, fault = await _accept(call, body, "sync")
    hash_ = _bill(call, body, checked.spec.req_key, inputs=inputs)
    latency = state.sample_latency(cfg.latency_ms)
    render = state.render_spec(body, checked.spec, hash_, inputs.tint)
    if latency > 0:
        await asyncio.sleep(latency)
    urls: list[str] = []
    b64: list[str] = []
    if body.get("return_url") is True:
        expired = fault is not None and fault.kind == "expired_url"
        urls.append(_mint(call, render, forced_expired=expired))
    else:
        b64.append(await _image_b64(state, render))
    return call.ok(
        {
            "algorithm_base_resp": {"status_code": 0, "status_message": "Success"},
            "binary_data_base64": b64,
            "image_urls": urls,
            "pe_result": "",
            "predict_tags_result": "",
            "rephraser_result": "",
            "request_id": new_data_request_id(),
        }
    )


async def submit(call: Call, body: dict[str, Any]) -> Response:
    state = call.state
    cfg = state.config
    checked, inputs, fault = await _accept(call, body, "async")
    fail_code = fault.code if fault is not None and fault.kind == "task_fail" else None
    hash_ = request_hash(body, inputs.link_digests)
    task = state.tasks.create(
        req_key=checked.spec.req_key,
        request_hash=hash_,
        render=state.render_spec(body, checked.spec, hash_, inputs.tint),
        latency_s=state.sample_latency(cfg.task_latency_ms),
        queue_fraction=cfg.queue_fraction,
        fail_code=fail_code,
        url_expired=fault is not None and fault.kind == "expired_url",
    )
    _bill(call, body, checked.spec.req_key, task.task_id, inputs)
    await state.api_overhead()
    return call.ok({"task_id": task.task_id})


async def get_result(call: Call, body: dict[str, Any]) -> Response:
    state = call.state
    poll = check_poll(body, state.catalog)
    fault = await apply_fault(call, _decide(call))
    await state.api_overhead()
    status, task = state.tasks.lookup(poll.spec.req_key, poll.task_id)
    data: dict[str, Any] = {"binary_data_base64": None, "image_urls": None, "status": status}
    if status != "done" or task is None:
        return call.ok(data)
    if task.fail_code is not None:
        err = SimError(task.fail_code, "task failed")
        call.code = err.code
        return error_response(err, request_id=call.request_id, elapsed_s=call.elapsed(), data=data)
    if poll.return_url:
        url = task.urls.get(call.base_url)
        if url is None:
            expired = task.url_expired or (fault is not None and fault.kind == "expired_url")
            url = _mint(call, task.render, forced_expired=expired)
            task.urls[call.base_url] = url
        data["image_urls"] = [url]
    else:
        data["binary_data_base64"] = [await _image_b64(state, task.render)]
    return call.ok(data)


HANDLERS = {CV_PROCESS: cv_process, SUBMIT: submit, GET_RESULT: get_result}
