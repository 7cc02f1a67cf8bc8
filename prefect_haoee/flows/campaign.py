"""The ``run_campaign`` flow: plan, budget, produce every item, publish, manifest."""

from __future__ import annotations

import time
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Annotated
from uuid import UUID

import anyio
from prefect import flow, get_run_logger
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import State
from prefect.runtime import flow_run
from prefect.states import Completed, Failed
from prefect_aws.s3 import S3Bucket
from pydantic import Field

from prefect_haoee.blocks import HaoeeCredentials, named_credentials
from prefect_haoee.campaigns import Campaign, load_campaign
from prefect_haoee.flows.destination import campaign_bucket, manifest_key
from prefect_haoee.flows.items import plan_campaign, produce_items, stored_outcomes
from prefect_haoee.flows.listeners import notify
from prefect_haoee.flows.manifest import (
    build_manifest,
    entry_for,
    read_manifest,
    reconcile,
    write_manifest,
)
from prefect_haoee.flows.observe import Progress, campaign_event, publish_results
from prefect_haoee.flows.result import CampaignResult, ItemOutcome
from prefect_haoee.flows.shards import MAX_SHARDS, ShardedRun

_NAMED: dict[tuple[str, str], Campaign] = {}
"""Campaign files loaded to name a flow run, handed to that run's body (loaded once)."""


def resolve_campaign(campaign: Campaign | str | Path) -> Campaign:
    return campaign if isinstance(campaign, Campaign) else load_campaign(campaign)


def campaign_run_name() -> str:
    """``{name}-{date}`` for the Prefect UI."""
    params = flow_run.parameters
    try:
        spec = resolve_campaign(params["campaign"])
    except (ValueError, OSError, KeyError):
        name = "haoee-campaign"
    else:
        name = spec.name
        if flow_run.id and not isinstance(params["campaign"], Campaign):
            if len(_NAMED) > 16:  # runs named but never started: forget them
                _NAMED.clear()
            _NAMED[(flow_run.id, str(params["campaign"]))] = spec
    day = params.get("run_date") or date.today()
    return f"{name}-{day}"


def _campaign_of_run(campaign: Campaign | str) -> Campaign:
    """The campaign of this flow run: the one loaded to name it, else loaded now."""
    if not isinstance(campaign, Campaign) and flow_run.id:
        named = _NAMED.pop((flow_run.id, str(campaign)), None)
        if named is not None:
            return named
    return resolve_campaign(campaign)


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


@flow(name="haoee-campaign", flow_run_name=campaign_run_name, persist_result=True)
async def run_campaign(
    campaign: Campaign | str,
    run_date: date | None = None,
    bucket: S3Bucket | None = None,
    credentials: HaoeeCredentials | None = None,
    shards: Annotated[int, Field(ge=1, le=MAX_SHARDS)] = 1,
) -> State[CampaignResult]:
    """Produce every image of a campaign into S3; Failed if any item failed (others kept).

    ``shards`` > 1 splits the items into that many child flow runs of the shard
    deployment (``haoee-campaign-shard/{campaign}``, see ``flows.shards``), which any
    worker of the pool can pick up; this run then only plans, waits and publishes.
    """
    started = time.perf_counter()
    began = datetime.now(timezone.utc)
    logger = get_run_logger()
    spec = _campaign_of_run(campaign)
    day = run_date or date.today()
    await _tag_flow_run(["haoee", spec.name, *spec.tags])
    s3 = campaign_bucket(spec, bucket)
    credentials = credentials or named_credentials(spec.credentials_block)
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
    outcomes = await stored_outcomes(plan, base, s3)
    for outcome in outcomes.values():
        notify(outcome.item, outcome.record, outcome.error)
    await progress.advance(len(outcomes))

    remaining = [(i, item) for i, item in enumerate(plan.items) if i not in outcomes]
    if remaining and shards > 1:
        sharded = ShardedRun(spec, campaign, day, shards, base, s3, bucket, credentials)
        await sharded.produce(remaining, outcomes, progress)
    elif remaining:
        await produce_items(spec, remaining, outcomes, s3, credentials, progress)

    ordered = [outcomes[i] for i in range(len(plan.items))]
    key, twice = await _write_manifest(spec, day, s3, base, ordered, began)
    done = [(o.item, o.record) for o in ordered if o.record is not None]
    result = CampaignResult.build(spec, plan, ordered, s3.bucket_name, base, key, started, twice)
    if result.paid_twice:
        logger.warning(
            "%d image(s) were paid twice: another run of this campaign paid for them too "
            "(no shared lock); see paid_twice_with in the manifest",
            result.paid_twice,
        )
    await publish_results(spec.name, s3, [row.model_dump() for row in result.items], done)
    campaign_event(spec.name, result.event_payload())
    if result.failed:
        listing = "; ".join(f"{f.label}: {f.error}" for f in result.failures[:10])
        return Failed(
            message=f"{result.failed} of {result.total} items failed: {listing}", data=result
        )
    return Completed(message=f"{result.done} images in s3://{s3.bucket_name}/{base}", data=result)


async def _write_manifest(
    spec: Campaign,
    day: date,
    s3: S3Bucket,
    base: str,
    ordered: list[ItemOutcome],
    began: datetime,
) -> tuple[str, dict[str, str]]:
    """Write this run's manifest next to its images; return its key and the items paid
    twice (request hash -> other payer), reconciled with a manifest another run wrote at
    the same key meanwhile. Its entries and text are dropped on return, before the result
    and the artifacts are built (a lower peak)."""
    entries = [entry_for(o.item, o.record, o.error) for o in ordered]
    manifest = build_manifest(spec.name, day.isoformat(), s3.bucket_name, entries)
    where = manifest_key(base)
    previous = await anyio.to_thread.run_sync(read_manifest, s3, where)
    manifest = reconcile(previous, manifest, began)
    twice = {e.request_hash: e.paid_twice_with for e in manifest.items if e.paid_twice_with}
    key: str = await anyio.to_thread.run_sync(write_manifest, s3, where, manifest)
    return key, twice
