"""Producing a campaign's items: one task run per item, limits held across workers.

Used by the campaign flow and by each shard of a sharded campaign (``flows.shards``).

Items get picklable parameters only (the request, the bucket block, a ``ClientSpec``):
the gateway client is built inside the task (``tasks.clients``). With the flow's default
task runner (threads of this process) the items run as coroutines in the flow's own
event loop, sharing one client - an async item gains nothing from a thread and the
shared client keeps one connection pool and one qps bucket. With any other task runner
(``run_campaign.with_options(task_runner=DaskTaskRunner(...))``, a process pool, ...)
every item is submitted to it and builds its own client where it runs.

Limits that hold across all workers, when they exist on the Prefect server (``haoee
deploy`` creates them): ``haoee-{campaign}`` (a global concurrency limit: items of the
campaign in flight, in every run and shard) and ``haoee-{campaign}-qps`` (slot decay:
gateway calls per second of the campaign, taken by every attempt of every call).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext
from datetime import date
from typing import Any, cast

import anyio
from prefect import Task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State
from prefect.concurrency.asyncio import concurrency
from prefect.context import FlowRunContext, TagsContext
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.tasks import TaskRunNameCallbackWithParameters
from prefect_aws.s3 import S3Bucket

from prefect_haoee.blocks import HaoeeCredentials
from prefect_haoee.campaigns import Campaign, Plan, WorkItem, make_plan
from prefect_haoee.client.families import FamilyRequest
from prefect_haoee.flows.destination import manifest_key
from prefect_haoee.flows.limits import (
    LEASE_SECONDS,
    concurrency_limit_name,
    existing_limits,
    rate_limit_name,
)
from prefect_haoee.flows.listeners import notify
from prefect_haoee.flows.manifest import read_manifest, record_from_entry
from prefect_haoee.flows.observe import Progress, image_event
from prefect_haoee.flows.result import ItemOutcome
from prefect_haoee.tasks import produce_image
from prefect_haoee.tasks.clients import ClientSpec, shared_clients
from prefect_haoee.tasks.media import produce_media
from prefect_haoee.tasks.s3_ledger import stored_record
from prefect_haoee.tasks.storage import full_key, list_stems


def item_run_name(parameters: dict[str, Any]) -> str:
    """``{prompt_id}-v{variant}-{req_key}``: the task run name of one campaign item."""
    meta = parameters.get("metadata") or {}
    request = parameters.get("request")
    req_key = getattr(request, "req_key", None) or getattr(request, "model_id", "item")
    if "prompt-id" in meta and "variant" in meta:
        return f"{meta['prompt-id']}-v{meta['variant']}-{req_key}"
    return f"produce-{req_key}"


def item_task(tags: list[str], tagged: bool, media: bool = False) -> Task[..., Any]:
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


async def plan_campaign(spec: Campaign, day: date, bucket: S3Bucket) -> tuple[Plan, str]:
    """Expand, look up what S3 already holds (one LIST per 1000 keys), check the budget."""
    base = spec.output.common_prefix(spec.name, day)
    stems = await anyio.to_thread.run_sync(list_stems, bucket, base)
    plan = make_plan(spec, day, stems)
    plan.check_budget()
    return plan, base


async def stored_outcomes(
    plan: Plan, base: str, bucket: S3Bucket, indices: set[int] | None = None
) -> dict[int, ItemOutcome]:
    """The items (of ``indices``, default all) S3 already holds, with their records."""
    previous = await anyio.to_thread.run_sync(read_manifest, bucket, manifest_key(base))
    known = {e.request_hash: e for e in previous.items} if previous else {}
    out: dict[int, ItemOutcome] = {}
    for index, item in enumerate(plan.items):
        if (indices is not None and index not in indices) or not plan.is_stored(item):
            continue
        entry = known.get(item.request_hash)
        record = record_from_entry(entry, bucket.bucket_name) if entry else None
        if record is None or not record.key.startswith(full_key(bucket, item.object_stem)):
            record = await anyio.to_thread.run_sync(
                stored_record, item.request, bucket, item.object_stem
            )
        out[index] = ItemOutcome(item=item, record=record, error=None if record else "vanished")
    return out


def _in_flow_loop() -> bool:
    """True when the flow's task runner is the default one (threads of this process)."""
    context = FlowRunContext.get()
    return context is None or type(context.task_runner) is ThreadPoolTaskRunner


async def produce_items(
    spec: Campaign,
    remaining: list[tuple[int, WorkItem]],
    outcomes: dict[int, ItemOutcome],
    s3: S3Bucket,
    credentials: HaoeeCredentials | None,
    progress: Progress,
) -> None:
    """One item task run per remaining item, ``2 x concurrency`` at a time (one downloads
    or uploads while another waits for the gateway), into ``outcomes``."""
    req_keys = sorted({item.req_key for _, item in remaining})
    base_tags = ["haoee", spec.name, *spec.tags]
    context_tags = sorted(TagsContext.get().current_tags or ())
    tag_limits = [f"tag:{t}" for t in sorted({*base_tags, *req_keys, *context_tags})]
    slots, rate = concurrency_limit_name(spec.name), rate_limit_name(spec.name)
    existing = await existing_limits([slots, rate, *tag_limits])
    tagged = bool(existing & set(tag_limits))
    media = {item.req_key for _, item in remaining if isinstance(item.request, FamilyRequest)}
    tasks = {key: item_task([*base_tags, key], tagged, key in media) for key in req_keys}
    client_spec = ClientSpec(
        credentials_block=_block_name(credentials),
        max_connections=spec.concurrency,
        qps=spec.qps,
        rate_limit=rate if rate in existing else None,
    )
    # An unsaved block cannot be named: it is passed on as is (this process only).
    given = credentials if client_spec.credentials_block is None else None
    run = _run if _in_flow_loop() else _submit

    async def produce(index: int, item: WorkItem) -> None:
        async with _slot(slots if slots in existing else None):
            state = await run(tasks[item.req_key], item, s3, client_spec, given)
        outcome = await ItemOutcome.from_state(item, state)
        outcomes[index] = outcome
        image_event(item, outcome.record, outcome.error)
        notify(item, outcome.record, outcome.error)
        await progress.advance()

    # A fixed set of workers pulling from one iterator: memory stays flat however many
    # items there are (not one pending coroutine per item).
    queue = iter(remaining)

    async def worker() -> None:
        for index, item in queue:
            await produce(index, item)

    workers = min(spec.concurrency * 2, len(remaining))
    async with shared_clients():
        await asyncio.gather(*(worker() for _ in range(workers)))


def _block_name(block: HaoeeCredentials | None) -> str | None:
    return getattr(block, "_block_document_name", None) if block is not None else None


@asynccontextmanager
async def _slot(limit: str | None) -> AsyncIterator[None]:
    if limit is None:
        yield
        return
    async with concurrency(limit, occupy=1, strict=True, lease_duration=LEASE_SECONDS):
        yield


def _item_kwargs(
    item: WorkItem, spec: ClientSpec, credentials: HaoeeCredentials | None
) -> dict[str, Any]:
    return {
        "mode": item.mode,
        "metadata": item.metadata,
        "client_spec": spec,
        "credentials": credentials,
        "skip_if_stored": False,
        "object_stem": item.object_stem,
    }


async def _run(
    task: Any,
    item: WorkItem,
    bucket: S3Bucket,
    spec: ClientSpec,
    credentials: HaoeeCredentials | None = None,
) -> State[Any]:
    """Run one item in this event loop (the default task runner)."""
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
            **_item_kwargs(item, spec, credentials),
            return_state=True,
        )
    return state


async def _submit(
    task: Any,
    item: WorkItem,
    bucket: S3Bucket,
    spec: ClientSpec,
    credentials: HaoeeCredentials | None = None,
) -> State[Any]:
    """Hand one item to the flow's task runner (Dask, processes, ...) and await its end."""
    future = task.submit(item.request, bucket, item.prefix, **_item_kwargs(item, spec, credentials))
    await anyio.to_thread.run_sync(future.wait)
    state: State[Any] = future.state
    return state
