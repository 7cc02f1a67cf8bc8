"""The ``run_campaign`` flow: plan, budget, produce every item, publish, manifest."""

from __future__ import annotations

import time
from array import array
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Annotated
from uuid import UUID

import anyio
from prefect import get_run_logger
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import State
from prefect.runtime import flow_run
from prefect.states import Completed, Failed
from prefect_aws.s3 import S3Bucket
from pydantic import Field

from prefect_haoee.blocks import HaoeeCredentials, named_credentials
from prefect_haoee.campaigns import Campaign, Plan, load_campaign
from prefect_haoee.flows.batch import batch_size
from prefect_haoee.flows.campaign_param import campaign_flow
from prefect_haoee.flows.destination import campaign_bucket, manifest_key
from prefect_haoee.flows.items import plan_campaign, produce_items, stored_outcomes
from prefect_haoee.flows.manifest_spool import read_paid_index
from prefect_haoee.flows.observe import ImageEvents, Progress, campaign_event, publish_results
from prefect_haoee.flows.prefect_internals import remember_named, take_named
from prefect_haoee.flows.result import CampaignResult, ItemOutcome
from prefect_haoee.flows.shards import MAX_SHARDS, ShardedRun
from prefect_haoee.flows.tally import Tally


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
            remember_named(flow_run.id, str(params["campaign"]), spec)
    day = params.get("run_date") or date.today()
    return f"{name}-{day}"


def _campaign_of_run(campaign: Campaign | str) -> Campaign:
    """The campaign of this flow run: the one loaded to name it, else loaded now."""
    if not isinstance(campaign, Campaign) and flow_run.id:
        named = take_named(flow_run.id, str(campaign))
        if isinstance(named, Campaign):
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


@campaign_flow(name="haoee-campaign", flow_run_name=campaign_run_name, persist_result=True)
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
    logger.info("%s", plan.headline())
    progress = Progress(spec.name, plan.total)
    await progress.start()
    tally = Tally()
    try:
        return await _produce(
            spec,
            campaign,
            day,
            plan,
            base,
            s3,
            bucket,
            credentials,
            shards,
            progress,
            tally,
            began,
            started,
        )
    finally:
        tally.spool.close()


async def _produce(
    spec: Campaign,
    campaign: Campaign | str,
    day: date,
    plan: Plan,
    base: str,
    s3: S3Bucket,
    bucket: S3Bucket | None,
    credentials: HaoeeCredentials | None,
    shards: int,
    progress: Progress,
    tally: Tally,
    began: datetime,
    started: float,
) -> State[CampaignResult]:
    ended = bytearray(plan.total)  # one byte per item: which have an outcome
    stored = await stored_outcomes(plan, base, s3)
    for index, outcome in stored.items():
        ended[index] = 1
        tally.add(outcome, index)
    await progress.advance(len(stored))
    # Plan indices (8 bytes each): items are built when their batch opens.
    remaining = array("q", (i for i in range(plan.total) if not ended[i]))
    del stored
    if remaining and shards > 1:
        sharded = ShardedRun(spec, campaign, day, shards, base, s3, bucket, credentials)
        gathered: dict[int, ItemOutcome] = {}
        await sharded.produce(list(plan.iter_items(remaining)), gathered, progress)
        for index, outcome in sorted(gathered.items()):
            ended[index] = 1
            tally.add(outcome, index)
        del gathered
    elif remaining:
        events = ImageEvents(spec.name, per_image=batch_size(len(remaining)) == 1)

        async def finished(index: int, outcome: ItemOutcome) -> None:
            ended[index] = 1
            tally.add(outcome, index)
            events.add(outcome.item, outcome.record, outcome.error)
            await progress.advance()

        await produce_items(spec, plan, remaining, finished, s3, credentials)
        events.flush()
    lost = "its batch task run ended before the item did"
    for index, item in plan.iter_items(i for i in remaining if not ended[i]):
        tally.add(ItemOutcome(item=item, record=None, error=lost), index)
    del remaining

    header = {"campaign": spec.name, "run_date": day.isoformat(), "bucket": s3.bucket_name}
    where = manifest_key(base)
    previous = await anyio.to_thread.run_sync(read_paid_index, s3, where)
    twice = tally.spool.double_payments(previous, began)
    del previous
    key = await anyio.to_thread.run_sync(tally.spool.upload, s3, where, header, twice)
    tally.mark_paid_twice(twice)
    result = CampaignResult.build(spec, plan, tally, s3.bucket_name, base, key, started, len(twice))
    logger = get_run_logger()
    if result.paid_twice:
        logger.warning(
            "%d image(s) were paid twice: another run of this campaign paid for them too "
            "(no shared lock); see paid_twice_with in the manifest",
            result.paid_twice,
        )
    rows = [row.model_dump() for row in tally.rows]
    await publish_results(spec.name, s3, rows, tally.gallery, files=tally.done, total=tally.total)
    campaign_event(spec.name, result.event_payload())
    if result.failed:
        listing = "; ".join(f"{f.label}: {f.error}" for f in result.failures[:10])
        return Failed(
            message=f"{result.failed} of {result.total} items failed: {listing}", data=result
        )
    return Completed(message=f"{result.done} images in s3://{s3.bucket_name}/{base}", data=result)
