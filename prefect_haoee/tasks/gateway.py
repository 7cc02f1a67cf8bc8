"""Prefect tasks around the gateway's paid and free calls (the visual API's fine-grained steps).

``submit_generation`` and ``generate_image`` are the paid calls: cached by request hash under
SERIALIZABLE isolation, so a rerun or a concurrent duplicate reads the committed answer
instead of paying. ``wait_for_generation`` only polls (free). They commit under the visual
API's step names (``client.kinds.VISUAL_STEPS``), the same records the item runner reads.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, ParamSpec, TypeVar

from prefect import Task

from prefect_haoee.blocks import HaoeeCredentials, resolve_settings
from prefect_haoee.client import GeneratedImages, HaoeeClient, JobHandle
from prefect_haoee.client.kinds import VISUAL_STEPS
from prefect_haoee.client.requests.base import VisualRequest
from prefect_haoee.client.visual import handle_of
from prefect_haoee.tasks.cache import (
    RESULT_URL_EXPIRATION,
    SUBMIT_EXPIRATION,
    InputsPolicy,
    serializable_policy,
    step_key,
)
from prefect_haoee.tasks.retry_rules import haoee_task
from prefect_haoee.tasks.step_json import STEP_SERIALIZER

P = ParamSpec("P")
R = TypeVar("R")


class SubmittedTaskPolicy(InputsPolicy):
    """Key of a poll result: request hash + gateway task id (a resubmission is a new key)."""

    def key_of(self, inputs: dict[str, Any]) -> str | None:
        submitted = inputs.get("submitted")
        if not isinstance(submitted, JobHandle) or not submitted.deterministic:
            return None
        return step_key(VISUAL_STEPS.wait_of(submitted.job_id), submitted.request_hash)


def paid_step(step: str, expiration: timedelta) -> Callable[[Callable[P, R]], Task[P, R]]:
    """The ``@task`` of a paid fine-grained step: committed under ``haoee-<step>-<hash>``
    with SERIALIZABLE isolation (a concurrent duplicate waits, then reads), few retries."""
    return haoee_task(
        f"haoee-{step}",
        f"{step}-{{request.req_key}}",
        paid=True,
        tags=("haoee", "haoee-paid"),
        cache_policy=serializable_policy(step),
        cache_expiration=expiration,
        persist_result=True,
        result_serializer=STEP_SERIALIZER,
    )


@paid_step(VISUAL_STEPS.submit, SUBMIT_EXPIRATION)
def submit_generation(
    request: VisualRequest,
    credentials: HaoeeCredentials | None = None,
    model_name: str | None = None,
) -> JobHandle:
    """Submit an async generation (paid). Its task id is committed as soon as it exists."""
    with HaoeeClient(resolve_settings(credentials)) as client:
        result = client.submit(request, model_name=model_name)
    return handle_of(request, result)


@paid_step(VISUAL_STEPS.generate, RESULT_URL_EXPIRATION)
def generate_image(
    request: VisualRequest,
    credentials: HaoeeCredentials | None = None,
    model_name: str | None = None,
) -> GeneratedImages:
    """Generate synchronously with ``CVProcess`` (paid). URLs in the answer live ~24 h."""
    with HaoeeClient(resolve_settings(credentials)) as client:
        return client.generate(request, model_name=model_name)


@haoee_task(
    "haoee-wait",
    "wait-{submitted.model}-{submitted.job_id}",
    paid=False,
    cache_policy=SubmittedTaskPolicy(),
    cache_expiration=RESULT_URL_EXPIRATION,
    persist_result=True,
    result_serializer=STEP_SERIALIZER,
)
def wait_for_generation(
    submitted: JobHandle,
    timeout: float = 600.0,
    credentials: HaoeeCredentials | None = None,
) -> GeneratedImages:
    """Poll a submitted task until done (free). Raises on not_found/expired/deadline."""
    with HaoeeClient(resolve_settings(credentials)) as client:
        return client.wait_generation(submitted, timeout=timeout)
