"""The ``run_campaign`` flow: plan, budget, produce every item, publish, manifest."""

from __future__ import annotations

import asyncio
import time
from contextlib import nullcontext
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, cast
from uuid import UUID

import anyio
from prefect import Task, flow, get_run_logger
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.objects import State
from prefect.concurrency.asyncio import concurrency
from prefect.context import FlowRunContext, TagsContext
from prefect.exceptions import ObjectNotFound
from prefect.runtime import flow_run
from prefect.states import Completed, Failed
from prefect.tasks import TaskRunNameCallbackWithParameters
from prefect_aws.s3 import S3Bucket

from prefect_haoee.blocks import HaoeeCredentials, named_credentials, resolve_settings
from prefect_haoee.campaigns import Campaign, Plan, WorkItem, load_campaign, make_plan
from prefect_haoee.client import AsyncHaoeeClient
from prefect_haoee.client.families import FamilyRequest
from prefect_haoee.flows.destination import campaign_bucket, manifest_key
from prefect_haoee.flows.listeners import notify
from prefect_haoee.flows.manifest import (
    build_manifest,
    entry_for,
    read_manifest,
    reconcile,
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
from prefect_haoee.tasks.media import produce_media
from prefect_haoee.tasks.s3_ledger import stored_record
from prefect_haoee.tasks.storage import full_key, list_stems

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


async def _existing_limits(names: list[str]) -> set[str]:
    """Which of these Prefect global concurrency limits the server has (one look-up each)."""

    async def exists(client: PrefectClient, name: str) -> bool:
        try:
            await client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            return False
        return True

    async with get_client() as client:
        found = await asyncio.gather(*(exists(client, name) for name in names))
    return {name for name, there in zip(names, found, strict=True) if there}


def item_run_name(parameters: dict[str, Any]) -> str:
    """``{prompt_id}-v{variant}-{req_key}``: the task run name of one campaign item."""
    meta = parameters.get("metadata") or {}
    request = parameters.get("request")
    req_key = getattr(request, "req_key", None) or getattr(request, "model_id", "item")
    if "prompt-id" in meta and "variant" in meta:
        return f"{meta['prompt-id']}-v{meta['variant']}-{req_key}"
    return f"produce-{req_key}"


def _item_task(tags: list[str], tagged: bool, media: bool = False) -> Task[..., Any]:
    """``produce_image`` as the campaign runs it, built once per req_key (not per item:
    ``with_options`` re-reads the task's source code, ~2.5 ms).

    S3 was just listed and is the ledger: an item not there is produced again even if
    Prefect cached its record (the object may have been deleted). So the item's record is
    neither looked up nor persisted as a task result (it goes to the manifest and the
    table artifact); the paid steps inside keep their own persisted results, so a retry
    or a rerun after a crash never pays twice.

    Prefect asks the server for a concurrency slot on ``tag:{tag}`` for every task run that
    has tags, one serialized API round trip per run, whether or not such a limit exists.
    With ``tagged=False`` (no ``tag:`` limit on any of these tags) the task runs carry no
    tags; the flow run keeps them for filtering in the UI.
    """
    base: Task[..., Any] = produce_media if media else produce_image
    task = base.with_options(
        cache_policy=NO_CACHE,
        persist_result=False,
        task_run_name=cast(TaskRunNameCallbackWithParameters, item_run_name),
        tags=tags,
    )
    if not tagged:
        task.tags = set()
    return task


async def _stored_outcomes(plan: Plan, base: str, bucket: S3Bucket) -> dict[int, ItemOutcome]:
    previous = await anyio.to_thread.run_sync(read_manifest, bucket, manifest_key(base))
    known = {e.request_hash: e for e in previous.items} if previous else {}
    out: dict[int, ItemOutcome] = {}
    for index, item in enumerate(plan.items):
        if not plan.is_stored(item):
            continue
        entry = known.get(item.request_hash)
        record = record_from_entry(entry, bucket.bucket_name) if entry else None
        if record is None or not record.key.startswith(full_key(bucket, item.object_stem)):
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
    outcomes = await _stored_outcomes(plan, base, s3)
    for outcome in outcomes.values():
        notify(outcome.item, outcome.record, outcome.error)
    await progress.advance(len(outcomes))

    remaining = [(i, item) for i, item in enumerate(plan.items) if i not in outcomes]
    if remaining:
        await _produce(spec, remaining, outcomes, s3, credentials, progress)

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


async def _produce(
    spec: Campaign,
    remaining: list[tuple[int, WorkItem]],
    outcomes: dict[int, ItemOutcome],
    s3: S3Bucket,
    credentials: HaoeeCredentials | None,
    progress: Progress,
) -> None:
    """One ``produce_image`` task run per remaining item, ``2 x concurrency`` at a time
    (one downloads or uploads while another waits for the gateway), sharing one client: a
    pool of ``concurrency`` connections and the campaign's qps."""
    settings = resolve_settings(credentials).model_copy(
        update={"max_connections": spec.concurrency, "max_keepalive_connections": spec.concurrency}
    )
    req_keys = sorted({item.req_key for _, item in remaining})
    base_tags = ["haoee", spec.name, *spec.tags]
    context_tags = sorted(TagsContext.get().current_tags or ())
    tag_limits = [f"tag:{t}" for t in sorted({*base_tags, *req_keys, *context_tags})]
    campaign_limit = f"haoee-{spec.name}"
    existing = await _existing_limits([campaign_limit, *tag_limits])
    limit = campaign_limit if campaign_limit in existing else None
    tagged = bool(existing & set(tag_limits))
    media = {item.req_key for _, item in remaining if isinstance(item.request, FamilyRequest)}
    tasks = {key: _item_task([*base_tags, key], tagged, key in media) for key in req_keys}

    async def produce(index: int, item: WorkItem, client: AsyncHaoeeClient) -> None:
        task = tasks[item.req_key]
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

    # A fixed set of workers pulling from one iterator: memory stays flat however many
    # items there are (not one pending coroutine per item).
    queue = iter(remaining)

    async def worker(client: AsyncHaoeeClient) -> None:
        for index, item in queue:
            await produce(index, item, client)

    workers = min(spec.concurrency * 2, len(remaining))
    async with AsyncHaoeeClient(settings, qps=spec.qps) as client:
        await asyncio.gather(*(worker(client) for _ in range(workers)))


async def _run(task: Any, item: WorkItem, bucket: S3Bucket, client: AsyncHaoeeClient) -> State[Any]:
    # Prefect links every task result (and each of its fields) to the task's state in the
    # flow run context, to wire results passed on to later tasks: ~4 KB per item kept to
    # the end of the run. An item's record is never passed to another task, so its task
    # runs in a copy of the context whose links are dropped with it.
    context = FlowRunContext.get()
    scratch = context.model_copy(update={"run_results": {}}) if context else nullcontext()
    with scratch:
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
