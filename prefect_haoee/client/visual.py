"""The Volcengine visual API (``POST /volcv/v1``): one adapter of the job protocol.

Builds the three Actions as :class:`~prefect_haoee.client.calls.HttpCall` (``CVProcess``
paid, ``CVSync2AsyncSubmitTask`` paid, ``CVSync2AsyncGetResult`` free), reads the
envelope (``code`` 10000 is success, whatever the HTTP status) and its results, and
declares its models (the req_key catalog) in the registry. :class:`VisualAdapter` maps
them onto the job protocol (:mod:`prefect_haoee.client.protocol`) as every family does.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import httpx
from pydantic import ValidationError

from prefect_haoee.client.answers import read_json
from prefect_haoee.client.calls import HttpCall, Purpose
from prefect_haoee.client.catalog import CATALOG
from prefect_haoee.client.errors import (
    SUCCESS_CODE,
    HaoeeError,
    InvalidRequestError,
    ServerError,
    TaskExpiredError,
    TaskFailedError,
    TaskNotFoundError,
    TransportError,
    error_for,
)
from prefect_haoee.client.flow import Flow, Sender
from prefect_haoee.client.handles import JobHandle
from prefect_haoee.client.redact import Scrubber
from prefect_haoee.client.registry import ModelFamily, register
from prefect_haoee.client.requests.base import LogoInfo, VisualRequest
from prefect_haoee.client.responses import Envelope, GeneratedImages, SubmitResult, TaskResult
from prefect_haoee.client.visual_prices import DEFAULT_PRICES

VISUAL_PATH = "/volcv/v1"
API_VERSION = "2022-08-31"
PAID_ACTIONS: frozenset[str] = frozenset({"CVProcess", "CVSync2AsyncSubmitTask"})

# Output options of an async task are chosen when polling (GetResult's req_json); upstream
# accepts them at submit only in callback mode, and then as JSON strings (Jimeng 4.0/4.6).
POLL_TIME_FIELDS = ("return_url", "logo_info")


def _call(action: str, purpose: Purpose, body: dict[str, Any], model_name: str) -> HttpCall:
    # GUESS (docs/gateway.md, "Every guess"): the gateway's `ModelName` header takes the
    # req_key.
    return HttpCall(
        "visual",
        purpose,
        "POST",
        VISUAL_PATH,
        params=(("Action", action), ("Version", API_VERSION)),
        json=body,
        extra_headers=(("ModelName", model_name),),
        name=f"{action} {body.get('req_key')}",
    )


def process_call(request: VisualRequest, model_name: str | None = None) -> HttpCall:
    return _call("CVProcess", "generate", request.to_body(), model_name or request.req_key)


def submit_call(request: VisualRequest, model_name: str | None = None) -> HttpCall:
    body = request.to_body()
    for name in POLL_TIME_FIELDS:
        body.pop(name, None)
    return _call("CVSync2AsyncSubmitTask", "submit", body, model_name or request.req_key)


def get_result_call(
    req_key: str,
    task_id: str,
    *,
    return_url: bool = True,
    logo_info: LogoInfo | None = None,
    model_name: str | None = None,
) -> HttpCall:
    """GetResult carries output options in ``req_json``, a JSON-encoded *string*."""
    req_json: dict[str, Any] = {"return_url": return_url}
    if logo_info is not None:
        req_json["logo_info"] = logo_info.model_dump(mode="json", exclude_none=True)
    body = {
        "req_key": req_key,
        "task_id": task_id,
        "req_json": json.dumps(req_json, separators=(",", ":")),
    }
    return _call("CVSync2AsyncGetResult", "poll", body, model_name or req_key)


# -- reading answers ----------------------------------------------------------------------


def _error_body_fields(payload: Any) -> tuple[int | None, str | None, str | None]:
    """(code, message, request_id) from any error body shape the visual API answers."""
    if not isinstance(payload, dict):
        return None, None, None
    if "code" in payload and isinstance(payload.get("code"), int):
        return payload["code"], str(payload.get("message", "")), payload.get("request_id")
    err = payload.get("error")
    if isinstance(err, dict):  # OpenAI-style gateway error
        code = err.get("code")
        return (
            code if isinstance(code, int) else None,
            str(err.get("message") or err.get("type") or "error"),
            payload.get("request_id"),
        )
    meta = payload.get("ResponseMetadata")
    if isinstance(meta, dict) and isinstance(meta.get("Error"), dict):
        e = meta["Error"]
        return None, f"{e.get('Code', '')}: {e.get('Message', '')}", meta.get("RequestId")
    return None, None, None


def parse_envelope(response: httpx.Response, scrub: Scrubber) -> Envelope:
    """Read an answer: the envelope on success, else raise the mapped :class:`HaoeeError`.

    ``code != 10000`` is an error even with HTTP 200; error bodies of non-2xx answers are
    parsed for their code; a body that is not the gateway's JSON is a transport error on
    2xx/5xx and a status-mapped error on 4xx.
    """
    status = response.status_code
    payload, retry_after = read_json(response)
    if status < 300 and isinstance(payload, dict):
        try:
            env = Envelope.model_validate(payload)
        except ValidationError:
            env = None
        if env is not None and env.code == SUCCESS_CODE:
            return env
    code, message, request_id = _error_body_fields(payload)
    if code is None and message is None:
        snippet = scrub(response.text[:400])[:200] if payload is None else "unexpected JSON"
        text = f"gateway answered HTTP {status} with a body that is not its JSON: {snippet!r}"
        if status < 300 or status >= 500:
            raise TransportError(text, http_status=status)
        raise error_for(http_status=status, code=None, message=text)
    err = error_for(
        http_status=status,
        code=code,
        message=scrub((message or f"HTTP {status}")[:1000])[:500],
        request_id=scrub(str(request_id))[:128] if request_id is not None else None,
        retry_after=retry_after,
    )
    if _task_finished(payload) and isinstance(err, (ServerError, InvalidRequestError)):
        # "done" with an error code: the task itself failed; polling again answers the same.
        err = TaskFailedError(
            f"async task failed: {err.message}",
            code=err.code,
            http_status=err.http_status,
            request_id=err.request_id,
        )
    raise err


def _task_finished(payload: Any) -> bool:
    """True for a GetResult answer whose task is over (``data.status == "done"``)."""
    data = payload.get("data") if isinstance(payload, dict) else None
    return isinstance(data, dict) and data.get("status") == "done"


def images_of(env: Envelope) -> GeneratedImages:
    """The images of a CVProcess answer (an answer without one is unusable)."""
    images = GeneratedImages.from_envelope(env)
    if images.count == 0:
        raise TransportError("CVProcess succeeded without an image", request_id=env.request_id)
    return images


def submit_result(req_key: str, env: Envelope) -> SubmitResult:
    task_id = (env.data or {}).get("task_id")
    if not task_id:
        raise TransportError(
            "submit succeeded without a task_id in data", request_id=env.request_id
        )
    return SubmitResult(req_key=req_key, task_id=str(task_id), request_id=env.request_id)


def task_result(req_key: str, task_id: str, env: Envelope) -> TaskResult:
    data = env.data or {}
    status = data.get("status")
    if status not in ("in_queue", "generating", "done", "not_found", "expired"):
        raise TransportError(
            f"GetResult answered an unknown task status {status!r}", request_id=env.request_id
        )
    images = GeneratedImages.from_envelope(env) if status == "done" else None
    return TaskResult(
        req_key=req_key, task_id=task_id, status=status, images=images, request_id=env.request_id
    )


def finished_images(result: TaskResult) -> GeneratedImages | None:
    """The images of a finished task, None while it runs; raise if it is gone."""
    if result.status == "done":
        if result.images is None or result.images.count == 0:
            raise TransportError(
                f"task {result.task_id} is done but returned no image",
                request_id=result.request_id,
            )
        return result.images
    gone: HaoeeError | None = None
    if result.status == "expired":
        gone = TaskExpiredError(f"task {result.task_id} expired; resubmit it")
    elif result.status == "not_found":
        gone = TaskNotFoundError(f"task {result.task_id} not found (unknown or older than 12 h)")
    if gone is not None:
        gone.request_id = result.request_id
        raise gone
    return None


def handle_of(request: VisualRequest, submitted: SubmitResult) -> JobHandle:
    """The handle of an accepted submission: its task id and the options each poll sends."""
    return JobHandle(
        family="visual",
        kind="image",
        job_id=submitted.task_id,
        request_hash=request.request_hash,
        model=request.req_key,
        seed=request.seed_value,
        return_url=request.return_url,
        logo_info=request.logo_info,
        gateway_request_id=submitted.request_id,
        submitted_at=datetime.now(timezone.utc),
    )


class VisualAdapter:
    """The visual API as the registry holds every family: its answer reader and its
    three calls under the job protocol."""

    family = "visual"

    def read_answer(self, response: httpx.Response, call: HttpCall, scrub: Scrubber) -> Envelope:
        return parse_envelope(response, scrub)

    def generate_call(self, request: VisualRequest, model_name: str | None = None) -> HttpCall:
        return process_call(request, model_name)

    def generated(self, answer: Envelope) -> GeneratedImages:
        return images_of(answer)

    def job_call(self, request: VisualRequest, *, webhook: str | None = None) -> HttpCall:
        if webhook is not None:
            raise ValueError("the visual family takes no webhook")
        return submit_call(request)

    def submitted(self, request: VisualRequest, answer: Envelope) -> JobHandle:
        return handle_of(request, submit_result(request.req_key, answer))

    def poll_once(
        self, handle: JobHandle, send: Sender, base_url: str
    ) -> Flow[tuple[GeneratedImages | None, object]]:
        call = get_result_call(
            handle.model, handle.job_id, return_url=handle.return_url, logo_info=handle.logo_info
        )
        result = task_result(handle.model, handle.job_id, (yield from send(call)))
        return finished_images(result), result.status


ADAPTER = VisualAdapter()
MODELS = register(
    ModelFamily("visual", "image", names=CATALOG, price=DEFAULT_PRICES.get, rank=0, adapter=ADAPTER)
)
