"""Answer pieces the families share: error bodies, failure reasons, relay task objects."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from prefect_haoee.simulator.codes import SimError
from prefect_haoee.simulator.envelope import json_response
from prefect_haoee.simulator.families.jobs import Job, JobStatus

NOT_FOUND = 50402  # rendered as each family's "task not found" (HTTP 404)
MODERATION_CODES = frozenset(
    {50411, 50412, 50413, 50511, 50512, 50518, 50519, 50520, 50521, 50522, 60102, 60208}
)
# Simulator code -> (the gateway task relay's text code, OpenAI's error code).
ERROR_CODES: dict[int, tuple[str, str]] = {
    50429: ("rate_limit", "rate_limit_exceeded"),
    50430: ("rate_limit", "concurrency_limit_exceeded"),
    50500: ("server_error", "server_error"),
    50501: ("server_error", "server_error"),
    50400: ("invalid_api_key", "invalid_api_key"),
    NOT_FOUND: ("task_not_exist", "task_not_found"),
    50213: ("request_too_large", "request_too_large"),
}


def failure_message(code: int) -> str:
    """A failed job's reason, as a gateway would word it."""
    if code in MODERATION_CODES:
        return f"output moderation: content policy violation (risk not pass, {code})"
    return f"generation failed upstream ({code})"


def gateway_error(err: SimError, request_id: str) -> dict[str, Any]:
    """The gateway's task-relay error: ``{code: "<text>", message, data: null}``."""
    names = ERROR_CODES.get(err.code)
    code = names[0] if names else "sensitive" if err.code in MODERATION_CODES else "invalid_request"
    return {"code": code, "message": err.message, "data": None}


def openai_error(err: SimError, request_id: str) -> dict[str, Any]:
    """OpenAI's error body: ``{"error": {message, type, param, code}}``."""
    names = ERROR_CODES.get(err.code)
    moderated = err.code in MODERATION_CODES
    code = names[1] if names else "content_policy_violation" if moderated else "invalid_value"
    status = err.http_status
    kind = (
        "rate_limit_error"
        if status == 429
        else "authentication_error"
        if status == 401
        else "server_error"
        if status >= 500
        else "invalid_request_error"
    )
    return {"error": {"message": err.message, "type": kind, "param": None, "code": code}}


def relay_ok(data: Any) -> Response:
    """The gateway task relay's success envelope ``{code: "success", message, data}``."""
    return json_response({"code": "success", "message": "", "data": data})


def relay_task(
    job: Job, status: JobStatus, progress: float, status_text: dict[str, str], action: str
) -> dict[str, Any]:
    """The relay's task object (its ``data`` left to the family): ids, status, times."""
    finished = status in ("succeeded", "failed")
    code = job.fail_code if status == "failed" else None
    return {
        "task_id": job.job_id,
        "action": action,
        "status": status_text[status],
        "fail_reason": "" if code is None else failure_message(code),
        "submit_time": int(job.created_wall),
        "start_time": int(job.created_wall + job.queue_s) if status != "queued" else 0,
        "finish_time": int(job.created_wall + job.total_s) if finished else 0,
        "progress": f"{int(progress * 100)}%",
        "data": None,
    }
