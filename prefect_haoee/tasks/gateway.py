"""Prefect tasks around the gateway's paid and free calls, for flows of one's own.

``submit_generation`` and ``generate_image`` are paid: each goes through the ledger of
paid steps (:mod:`~prefect_haoee.tasks.ledger`), the same one ``produce_image`` and the
campaigns use. Given ``bucket=`` (the ``S3Bucket`` the images go to) the ledger is in that
bucket, so runs on several machines pay once; without one it is a directory on this
machine (``HAOEE_LOCK_URL=redis://...`` shares one across machines with no bucket).
A rerun or a concurrent duplicate reads the committed answer instead of paying.
``wait_for_generation`` only polls (free).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from prefect.cache_policies import NO_CACHE

from prefect_haoee.blocks import HaoeeCredentials, resolve_settings
from prefect_haoee.client import AsyncHaoeeClient, GeneratedImages, HaoeeClient, JobHandle
from prefect_haoee.client.kinds import VISUAL_STEPS
from prefect_haoee.client.requests.base import VisualRequest
from prefect_haoee.client.visual import handle_of
from prefect_haoee.tasks.ledger import ledger_for, run_sync
from prefect_haoee.tasks.ledger_entry import RESULT_URL_EXPIRATION, SUBMIT_EXPIRATION, step_key
from prefect_haoee.tasks.retry_rules import haoee_task
from prefect_haoee.tasks.stored import paying_run

T = TypeVar("T")


def _through_ledger(
    step: str,
    request: VisualRequest,
    bucket: Any | None,
    expiration: timedelta,
    credentials: HaoeeCredentials | None,
    call: Callable[[AsyncHaoeeClient], Awaitable[T]],
) -> T:
    key = step_key(step, request.request_hash) if request.is_deterministic else None

    async def main() -> T:
        async with AsyncHaoeeClient(resolve_settings(credentials)) as client:

            async def pay() -> T:
                return await call(client)

            ledger = ledger_for(bucket)
            outcome = await ledger.step(
                key, pay, expiration=expiration, payer=paying_run(), scrub=client.scrub
            )
            return outcome.value

    return run_sync(main())


@haoee_task("haoee-submit", "submit-{request.req_key}", paid=True, cache_policy=NO_CACHE)
def submit_generation(
    request: VisualRequest,
    credentials: HaoeeCredentials | None = None,
    model_name: str | None = None,
    bucket: Any | None = None,
) -> JobHandle:
    """Submit an async generation (paid). Its task id is committed as soon as it exists."""

    async def call(client: AsyncHaoeeClient) -> JobHandle:
        return handle_of(request, await client.submit(request, model_name=model_name))

    return _through_ledger(
        VISUAL_STEPS.submit, request, bucket, SUBMIT_EXPIRATION, credentials, call
    )


@haoee_task("haoee-generate", "generate-{request.req_key}", paid=True, cache_policy=NO_CACHE)
def generate_image(
    request: VisualRequest,
    credentials: HaoeeCredentials | None = None,
    model_name: str | None = None,
    bucket: Any | None = None,
) -> GeneratedImages:
    """Generate synchronously with ``CVProcess`` (paid). URLs in the answer live ~24 h."""

    async def call(client: AsyncHaoeeClient) -> GeneratedImages:
        return await client.generate(request, model_name=model_name)

    step = VISUAL_STEPS.generate
    return _through_ledger(step, request, bucket, RESULT_URL_EXPIRATION, credentials, call)


@haoee_task(
    "haoee-wait",
    "wait-{submitted.model}-{submitted.job_id}",
    paid=False,
    cache_policy=NO_CACHE,
)
def wait_for_generation(
    submitted: JobHandle,
    timeout: float = 600.0,
    credentials: HaoeeCredentials | None = None,
) -> GeneratedImages:
    """Poll a submitted task until done (free: a rerun polls the committed task again).
    Raises on not_found/expired/deadline."""
    with HaoeeClient(resolve_settings(credentials)) as client:
        return client.wait_generation(submitted, timeout=timeout)
