"""Prefect tasks around the gateway's paid and free calls.

``submit_generation`` and ``generate_image`` are the paid calls: cached by request hash under
SERIALIZABLE isolation, so a rerun or a concurrent duplicate reads the committed answer
instead of paying. ``wait_for_generation`` only polls (free).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from prefect import task
from prefect.cache_policies import CachePolicy
from prefect.context import TaskRunContext

from prefect_haoee.blocks import HaoeeCredentials, resolve_settings
from prefect_haoee.client import GeneratedImages, HaoeeClient
from prefect_haoee.client.requests.base import VisualRequest
from prefect_haoee.tasks.cache import (
    RESULT_URL_EXPIRATION,
    SUBMIT_EXPIRATION,
    serializable_policy,
    step_key,
)
from prefect_haoee.tasks.records import SubmittedGeneration
from prefect_haoee.tasks.retry_rules import (
    FREE_RETRIES,
    FREE_RETRY_DELAYS,
    PAID_RETRIES,
    PAID_RETRY_DELAYS,
    retry_if_retryable,
)
from prefect_haoee.tasks.step_json import STEP_SERIALIZER


class SubmittedTaskPolicy(CachePolicy):
    """Key of a poll result: request hash + gateway task id (a resubmission is a new key)."""

    def compute_key(
        self,
        task_ctx: TaskRunContext,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        submitted = inputs.get("submitted")
        if not isinstance(submitted, SubmittedGeneration) or not submitted.deterministic:
            return None
        return step_key(f"wait-{submitted.task_id}", submitted.request_hash)


def to_submitted(
    request: VisualRequest, task_id: str, request_id: str | None
) -> SubmittedGeneration:
    return SubmittedGeneration(
        request_hash=request.request_hash,
        req_key=request.req_key,
        task_id=task_id,
        seed=request.seed_value,
        deterministic=request.is_deterministic,
        return_url=request.return_url,
        logo_info=request.logo_info,
        gateway_request_id=request_id,
        submitted_at=datetime.now(timezone.utc),
    )


@task(
    name="haoee-submit",
    task_run_name="submit-{request.req_key}",
    cache_policy=serializable_policy("submit"),
    cache_expiration=SUBMIT_EXPIRATION,
    persist_result=True,
    result_serializer=STEP_SERIALIZER,
    retries=PAID_RETRIES,
    retry_delay_seconds=PAID_RETRY_DELAYS,
    retry_condition_fn=retry_if_retryable,
    tags=["haoee", "haoee-paid"],
)
def submit_generation(
    request: VisualRequest,
    credentials: HaoeeCredentials | None = None,
    model_name: str | None = None,
) -> SubmittedGeneration:
    """Submit an async generation (paid). Its task id is committed as soon as it exists."""
    with HaoeeClient(resolve_settings(credentials)) as client:
        result = client.submit(request, model_name=model_name)
    return to_submitted(request, result.task_id, result.request_id)


@task(
    name="haoee-generate",
    task_run_name="generate-{request.req_key}",
    cache_policy=serializable_policy("generate"),
    cache_expiration=RESULT_URL_EXPIRATION,
    persist_result=True,
    result_serializer=STEP_SERIALIZER,
    retries=PAID_RETRIES,
    retry_delay_seconds=PAID_RETRY_DELAYS,
    retry_condition_fn=retry_if_retryable,
    tags=["haoee", "haoee-paid"],
)
def generate_image(
    request: VisualRequest,
    credentials: HaoeeCredentials | None = None,
    model_name: str | None = None,
) -> GeneratedImages:
    """Generate synchronously with ``CVProcess`` (paid). URLs in the answer live ~24 h."""
    with HaoeeClient(resolve_settings(credentials)) as client:
        return client.generate(request, model_name=model_name)


@task(
    name="haoee-wait",
    task_run_name="wait-{submitted.req_key}-{submitted.task_id}",
    cache_policy=SubmittedTaskPolicy(),
    cache_expiration=RESULT_URL_EXPIRATION,
    persist_result=True,
    result_serializer=STEP_SERIALIZER,
    retries=FREE_RETRIES,
    retry_delay_seconds=FREE_RETRY_DELAYS,
    retry_condition_fn=retry_if_retryable,
    tags=["haoee"],
)
def wait_for_generation(
    submitted: SubmittedGeneration,
    timeout: float = 600.0,
    credentials: HaoeeCredentials | None = None,
) -> GeneratedImages:
    """Poll a submitted task until done (free). Raises on not_found/expired/deadline."""
    with HaoeeClient(resolve_settings(credentials)) as client:
        return client.wait(
            submitted.req_key,
            submitted.task_id,
            timeout=timeout,
            return_url=submitted.return_url,
            logo_info=submitted.logo_info,
        )
