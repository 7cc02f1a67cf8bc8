"""Producing a campaign's items in batch task runs, limits held across workers.

Used by the campaign flow and by each shard of a sharded campaign (``flows.shards``).
How items map onto task runs, and why: ``flows.batch`` (and docs/scale-out.md).

Batches get picklable parameters only (the items, the bucket block, a ``ClientSpec``):
the gateway client is built inside the task (``tasks.clients``). With the flow's default
task runner (threads of this process) the batches run as coroutines in the flow's own
event loop, sharing one client - an async item gains nothing from a thread and the
shared client keeps one connection pool and one qps bucket - and one gate of
``2 x concurrency`` items in flight. With any other task runner
(``run_campaign.with_options(task_runner=DaskTaskRunner(...))``, a process pool, ...)
every batch is submitted to it and builds its own client where it runs.

Limits that hold across all workers, when they exist on the Prefect server (``haoee
deploy`` creates them): ``haoee-{campaign}`` (a global concurrency limit: items of the
campaign in flight, in every run and shard) and ``haoee-{campaign}-qps`` (slot decay:
gateway calls per second of the campaign, taken by every attempt of every call).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from datetime import date
from typing import Any

import anyio
from prefect import Task
from prefect.client.schemas.objects import State
from prefect.context import TagsContext
from prefect_aws.s3 import S3Bucket

from prefect_haoee.blocks import HaoeeCredentials
from prefect_haoee.campaigns import Campaign, Plan, make_plan
from prefect_haoee.flows.batch import (
    Batch,
    Sink,
    batch_size,
    batches_of,
    delivering,
    produce_batch,
)
from prefect_haoee.flows.destination import manifest_key
from prefect_haoee.flows.limits import concurrency_limit_name, existing_limits, rate_limit_name
from prefect_haoee.flows.manifest import read_manifest, record_from_entry
from prefect_haoee.flows.prefect_internals import runs_in_flow_loop, unlinked_results, untagged
from prefect_haoee.flows.result import ItemOutcome
from prefect_haoee.tasks.clients import ClientSpec, shared_clients
from prefect_haoee.tasks.ledger import check_ledger
from prefect_haoee.tasks.storage import full_key, list_stems
from prefect_haoee.tasks.stored import stored_record


def batch_task(tags: list[str], tagged: bool) -> Task[..., Any]:
    """``produce_batch`` as the campaign runs it (built once per run: ``with_options``
    re-reads the task's source code, ~2.5 ms).

    S3 was just listed and is the ledger: an item not there is produced again even if
    Prefect cached its record (the object may have been deleted). So nothing of a batch is
    looked up or persisted as a task result (records go to the manifest and the table
    artifact); the paid steps inside keep their own persisted results, so a retry or a
    rerun after a crash never pays twice. Untagged when no ``tag:`` limit exists
    (``prefect_internals.untagged``).
    """
    task = produce_batch.with_options(tags=tags)
    return task if tagged else untagged(task)


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
    wanted = [i for i in plan.stored_indices() if indices is None or i in indices]
    out: dict[int, ItemOutcome] = {}
    if not wanted:
        return out
    previous = await anyio.to_thread.run_sync(read_manifest, bucket, manifest_key(base))
    known = {e.request_hash: e for e in previous.items} if previous else {}
    for index, item in plan.iter_items(wanted):
        entry = known.get(item.request_hash)
        record = record_from_entry(entry, bucket.bucket_name) if entry else None
        if record is None or not record.key.startswith(full_key(bucket, item.object_stem)):
            record = await anyio.to_thread.run_sync(
                stored_record, item.request, bucket, item.object_stem
            )
        out[index] = ItemOutcome(item=item, record=record, error=None if record else "vanished")
    return out


async def produce_items(
    spec: Campaign,
    plan: Plan,
    remaining: Sequence[int],
    sink: Sink,
    s3: S3Bucket,
    credentials: HaoeeCredentials | None,
) -> None:
    """The ``remaining`` plan indices in batch task runs
    (:func:`~prefect_haoee.flows.batch.batch_size`), each item built when its batch opens,
    ``2 x concurrency`` items in flight (one downloads or uploads while another waits for
    the gateway); each outcome goes to ``sink`` (plan index, outcome) as it comes.

    Each paid step goes through the ledger in ``s3`` (``tasks.ledger``); its settings are
    checked here first, so a bad ``HAOEE_LOCK_*`` stops the run before any paid call."""
    check_ledger()
    if remaining:
        await _produce(spec, plan, remaining, sink, s3, credentials)


async def _produce(
    spec: Campaign,
    plan: Plan,
    remaining: Sequence[int],
    sink: Sink,
    s3: S3Bucket,
    credentials: HaoeeCredentials | None,
) -> None:
    req_keys = sorted({plan.req_key_at(index) for index in remaining})
    base_tags = ["haoee", spec.name, *spec.tags]
    context_tags = sorted(TagsContext.get().current_tags or ())
    tag_limits = [f"tag:{t}" for t in sorted({*base_tags, *req_keys, *context_tags})]
    slots, rate = concurrency_limit_name(spec.name), rate_limit_name(spec.name)
    existing = await existing_limits([slots, rate, *tag_limits])
    task = batch_task([*base_tags, *req_keys], bool(existing & set(tag_limits)))
    client_spec = ClientSpec(
        credentials_block=_block_name(credentials),
        max_connections=spec.concurrency,
        qps=spec.qps,
        rate_limit=rate if rate in existing else None,
    )
    # An unsaved block cannot be named: it is passed on as is (this process only).
    given = credentials if client_spec.credentials_block is None else None
    size = batch_size(len(remaining))
    flight = spec.concurrency * 2
    count = math.ceil(len(remaining) / size)
    # Enough batches open that their items fill the flight (at least 2: one drains its
    # tail while the next one starts).
    open_batches = min(count, max(2, math.ceil(flight / size)))
    in_loop = runs_in_flow_loop()
    in_flight = min(size, flight) if in_loop else max(1, math.ceil(flight / open_batches))
    slot_limit = slots if slots in existing else None

    async def one(batch: Batch) -> None:
        if in_loop:
            with unlinked_results():
                state = await task(batch, s3, client_spec, given, return_state=True)
            # A batch that ended without some items' ends: the flow marks the items it
            # never heard of (see ``run_campaign``).
            return
        future = task.submit(batch, s3, client_spec, given)
        await anyio.to_thread.run_sync(future.wait)
        state = future.state
        ends = await state.aresult(raise_on_failure=False) if state.is_completed() else None
        if not isinstance(ends, list):
            await _lost(batch, state, sink)
            return
        for index, outcome in ends:
            await sink(index, outcome)

    # A fixed set of openers pulling batches from one iterator: memory stays flat however
    # many there are (not one pending coroutine per batch).
    queue = (
        Batch(number, items, in_flight, slot_limit)
        for number, items in enumerate(batches_of(remaining, size, plan.item))
    )

    async def opener() -> None:
        for batch in queue:
            await one(batch)

    async def chained() -> None:
        """In the flow's loop: the next batch opens as soon as this one has *started*
        all its items, not when it ends. Two batches opened together otherwise drain
        their tails together and starve the shared flight of items, again and again."""
        opened: list[asyncio.Future[None]] = []  # at most MAX_BATCHES
        for batch in queue:
            batch.all_started = asyncio.Event()
            ran = asyncio.ensure_future(one(batch))
            opened.append(ran)
            started = asyncio.ensure_future(batch.all_started.wait())
            await asyncio.wait({ran, started}, return_when=asyncio.FIRST_COMPLETED)
            started.cancel()
            if ran.done() and ran.exception() is not None:
                break
        for result in await asyncio.gather(*opened, return_exceptions=True):
            if isinstance(result, BaseException):
                raise result

    async with shared_clients(), delivering(sink, asyncio.Semaphore(flight)):
        if in_loop:
            await chained()
        else:
            await asyncio.gather(*(opener() for _ in range(open_batches)))


async def _lost(batch: Batch, state: State[Any], sink: Sink) -> None:
    """A batch task run of another task runner that ended without its items' ends
    (crashed, cancelled): each item is failed with the run's state (a rerun resumes them)."""
    error = f"batch task run ended {state.name}: {state.message or ''}".strip()[:500]
    for index, item in batch.items:
        await sink(index, ItemOutcome(item=item, record=None, error=error))


def _block_name(block: HaoeeCredentials | None) -> str | None:
    return getattr(block, "_block_document_name", None) if block is not None else None
