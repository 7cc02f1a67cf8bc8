"""The ``run_campaign`` flow: plan, budget, produce every item, publish, manifest."""

from __future__ import annotations

import asyncio
import time
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import anyio
from prefect import flow, get_run_logger
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import State
from prefect.concurrency.asyncio import concurrency
from prefect.exceptions import ObjectNotFound
from prefect.runtime import flow_run
from prefect.states import Completed, Failed
from prefect_aws.s3 import S3Bucket

from prefect_haoee.blocks import HaoeeCredentials, resolve_settings
from prefect_haoee.campaigns import Campaign, Plan, WorkItem, load_campaign, make_plan
from prefect_haoee.client import AsyncHaoeeClient
from prefect_haoee.flows.destination import campaign_bucket, manifest_key
from prefect_haoee.flows.listeners import notify
from prefect_haoee.flows.manifest import (
    build_manifest,
    entry_for,
    read_manifest,
    record_from_entry,
    write_manifest,
)
from prefect_haoee.flows.observe import (
    Progress,
    campaign_event,
    image_event,
    publish_results,
)
from prefect_haoee.flows.result import CampaignResult, ItemOutcome
from prefect_haoee.tasks import produce_image
from prefect_haoee.tasks.produce import stored_record
from prefect_haoee.tasks.storage import list_stems


def resolve_campaign(campaign: Campaign | str | Path) -> Campaign:
    return campaign if isinstance(campaign, Campaign) else load_campaign(campaign)


def campaign_run_name() -> str:
    """``{name}-{date}`` for the Prefect UI."""
    params = flow_run.parameters
    try:
        name = resolve_campaign(params["campaign"]).name
    except (ValueError, OSError, KeyError):
        name = "haoee-campaign"
    day = params.get("run_date") or date.today()
    return f"{name}-{day}"


async def plan_campaign(spec: Campaign, day: date, bucket: S3Bucket) -> tuple[Plan, str]:
    """Expand, look up what S3 already holds (one LIST per 1000 keys), check the budget."""
    base = spec.output.common_prefix(spec.name, day)
    stems = await anyio.to_thread.run_sync(list_stems, bucket, base)
    plan = make_plan(spec, day, stems)
    plan.check_budget()
    return plan, base


async def _tag_flow_run(tags: list[str]) -> None:
    """Add the campaign's tags to this flow run (filters and automations in the UI)."""
    run_id = flow_run.id
    if not run_id:
        return
    async with get_client() as client:
        current = await client.read_flow_run(UUID(run_id))
        merged = sorted({*current.tags, *tags})
        if merged != sorted(current.tags):
            await client.update_flow_run(UUID(run_id), tags=merged)


async def _limit_name(spec: Campaign) -> str | None:
    """A Prefect global concurrency limit named ``haoee-{campaign}``, if the server has one."""
    name = f"haoee-{spec.name}"
    try:
        async with get_client() as client:
            await client.read_global_concurrency_limit_by_name(name)
    except ObjectNotFound:
        return None
    return name


async def _stored_outcomes(plan: Plan, base: str, bucket: S3Bucket) -> dict[int, ItemOutcome]:
    previous = await anyio.to_thread.run_sync(read_manifest, bucket, manifest_key(base))
    known = {e.request_hash: e for e in previous.items} if previous else {}
    out: dict[int, ItemOutcome] = {}
    for index, item in enumerate(plan.items):
        if not plan.is_stored(item):
            continue
        entry = known.get(item.request_hash)
        record = record_from_entry(entry, bucket.bucket_name) if entry else None
        if record is None or not record.key.startswith(item.object_stem):
            record = await anyio.to_thread.run_sync(
                stored_record, item.request, bucket, item.object_stem
            )
        out[index] = ItemOutcome(item=item, record=record, error=None if record else "vanished")
    return out


@flow(name="haoee-campaign", flow_run_name=campaign_run_name, persist_result=True)
async def run_campaign(
    campaign: Campaign | str,
    run_date: date | None = None,
    bucket: S3Bucket | None = None,
    credentials: HaoeeCredentials | None = None,
) -> State[CampaignResult]:
    """Produce every image of a campaign into S3; Failed if any item failed (others kept)."""
    started = time.perf_counter()
    logger = get_run_logger()
    spec = resolve_campaign(campaign)
    day = run_date or date.today()
    await _tag_flow_run(["haoee", spec.name, *spec.tags])
    s3 = campaign_bucket(spec, bucket)
    plan, base = await plan_campaign(spec, day, s3)
    logger.info(
        "%s: %d images, %d already stored, %d to generate (%.2f)",
        spec.name,
        plan.total,
        plan.total - plan.paid_calls,
        plan.paid_calls,
        plan.cost,
    )
    progress = Progress(spec.name, plan.total)
    await progress.start()
    outcomes = await _stored_outcomes(plan, base, s3)
    for outcome in outcomes.values():
        notify(outcome.item, outcome.record, outcome.error)
    await progress.advance(len(outcomes))

    settings = resolve_settings(credentials).model_copy(
        update={"max_connections": spec.concurrency, "max_keepalive_connections": spec.concurrency}
    )
    limit = await _limit_name(spec)
    gate = asyncio.Semaphore(spec.concurrency * 2)

    async def produce(index: int, item: WorkItem, client: AsyncHaoeeClient) -> None:
        # S3 was just listed and is the ledger: an item not there is produced again even if
        # Prefect cached its record (the object may have been deleted). The paid steps
        # inside keep their own cache, so this never pays twice.
        task = produce_image.with_options(
            refresh_cache=True,
            task_run_name=f"{item.label}-{item.req_key}",
            tags=["haoee", spec.name, item.req_key, *spec.tags],
        )
        async with gate:
            if limit is not None:
                async with concurrency(limit, occupy=1, strict=False):
                    state = await _run(task, item, s3, client)
            else:
                state = await _run(task, item, s3, client)
        outcome = await ItemOutcome.from_state(item, state)
        outcomes[index] = outcome
        image_event(item, outcome.record, outcome.error)
        notify(item, outcome.record, outcome.error)
        await progress.advance()

    async with AsyncHaoeeClient(settings, qps=spec.qps) as client:
        await asyncio.gather(
            *(
                produce(index, item, client)
                for index, item in enumerate(plan.items)
                if index not in outcomes
            )
        )

    ordered = [outcomes[i] for i in range(len(plan.items))]
    entries = [entry_for(o.item, o.record, o.error) for o in ordered]
    manifest = build_manifest(spec.name, day.isoformat(), s3.bucket_name, entries)
    key = await anyio.to_thread.run_sync(write_manifest, s3, manifest_key(base), manifest)
    done = [(o.item, o.record) for o in ordered if o.record is not None]
    result = CampaignResult.build(spec, plan, ordered, s3.bucket_name, base, key, started)
    await publish_results(spec.name, s3, [row.model_dump() for row in result.items], done)
    campaign_event(spec.name, result.event_payload())
    if result.failed:
        listing = "; ".join(f"{f.label}: {f.error}" for f in result.failures[:10])
        return Failed(
            message=f"{result.failed} of {result.total} items failed: {listing}", data=result
        )
    return Completed(message=f"{result.done} images in s3://{s3.bucket_name}/{base}", data=result)


async def _run(task: Any, item: WorkItem, bucket: S3Bucket, client: AsyncHaoeeClient) -> State[Any]:
    state: State[Any] = await task(
        item.request,
        bucket,
        item.prefix,
        mode=item.mode,
        metadata=item.metadata,
        client=client,
        skip_if_stored=False,
        object_stem=item.object_stem,
        return_state=True,
    )
    return state
