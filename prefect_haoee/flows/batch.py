"""A batch of campaign items as one Prefect task run (``haoee-produce-batch``).

A task run per image cost ~17 ms of Prefect server CPU and ~13 ms in the flow's process
(creation, three state transitions, their events); the image itself costs ~10 ms. So a
campaign's items run in batches (:func:`batch_size`: a task run per item up to 20 items,
then 50 per batch, at most 200 batches): one task run each, its items still concurrent.
Each item keeps the retry rules it had as a task run (``tasks.retry_rules``:
``PAID_RETRIES``, their delays and jitter, retry only what a retry helps), applied per
item here; its paid steps still go through the ledger in the batch's bucket
(``tasks.ledger``), and S3 stays the final record of what is stored.
Per-image facts go to the manifest, the table artifact and the events (``flows.observe``).
"""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from contextvars import ContextVar
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.concurrency.asyncio import concurrency
from prefect.utilities.math import clamped_poisson_interval
from prefect_aws.s3 import S3Bucket

from prefect_haoee.blocks import HaoeeCredentials
from prefect_haoee.campaigns import WorkItem
from prefect_haoee.flows.limits import LEASE_SECONDS
from prefect_haoee.flows.result import ItemOutcome
from prefect_haoee.tasks.clients import ClientSpec, shared_clients
from prefect_haoee.tasks.item_runner import produce_item
from prefect_haoee.tasks.records import ImageRecord
from prefect_haoee.tasks.retry_rules import (
    PAID_RETRIES,
    PAID_RETRY_DELAYS,
    RETRY_JITTER,
    is_retryable,
)

PER_ITEM_MAX = 20
"""Campaigns of up to this many items to produce get a task run per item (batches of 1)."""
BATCH_MIN = 50
MAX_BATCHES = 200
BATCH_SIZE_ENV = "HAOEE_BATCH_SIZE"
"""Items per batch task run, overriding :func:`batch_size` (1 = a task run per item)."""

Sink = Callable[[int, ItemOutcome], Awaitable[None]]
"""Where a batch in the flow's event loop hands each item's end: (plan index, outcome)."""
_DELIVERY: ContextVar[tuple[asyncio.AbstractEventLoop, Sink, asyncio.Semaphore] | None] = (
    ContextVar("haoee_batch_delivery", default=None)
)
"""The flow's event loop, sink and gate. Task runners copy context variables into their
threads: a batch running in another event loop must not use them."""


def batch_size(total: int) -> int:
    """Items per batch for ``total`` items to produce: 1 up to ``PER_ITEM_MAX``, then
    ``BATCH_MIN``, more when that would make over ``MAX_BATCHES`` task runs."""
    given = os.environ.get(BATCH_SIZE_ENV, "").strip()
    if given:
        return max(1, int(given))
    if total <= PER_ITEM_MAX:
        return 1
    return max(BATCH_MIN, math.ceil(total / MAX_BATCHES))


def batches_of(
    remaining: Sequence[int], size: int, build: Callable[[int], WorkItem]
) -> Iterator[list[tuple[int, WorkItem]]]:
    """The items of the ``remaining`` plan indices in batches of ``size``, each item built
    (``build``, e.g. ``Plan.item``) when its batch is reached: only open batches hold items."""
    for start in range(0, len(remaining), size):
        yield [(index, build(index)) for index in remaining[start : start + size]]


@asynccontextmanager
async def delivering(sink: Sink, gate: asyncio.Semaphore) -> AsyncIterator[None]:
    """Batches run in this event loop hand each item's end to ``sink`` as it comes and
    share ``gate`` (items in flight over all open batches)."""
    token = _DELIVERY.set((asyncio.get_running_loop(), sink, gate))
    try:
        yield
    finally:
        _DELIVERY.reset(token)


class Batch:
    """The items of one batch task run (plan index, item), at most ``in_flight`` at once.

    A plain holder, not a model: Prefect walks a task's parameters (lists, models) looking
    for futures, every request of the batch field by field; it does not walk into this.
    It pickles (Dask, processes).
    """

    __slots__ = ("number", "items", "in_flight", "slots", "all_started")

    def __init__(
        self,
        number: int,
        items: list[tuple[int, WorkItem]],
        in_flight: int,
        slots: str | None = None,
    ) -> None:
        self.number = number
        self.items = items
        self.in_flight = in_flight
        self.slots = slots
        """The campaign's global concurrency limit (each item holds a slot), or None."""
        self.all_started: asyncio.Event | None = None
        """Set once every item has started (the flow's loop opens the next batch then);
        not pickled."""

    def __getstate__(self) -> tuple[int, list[tuple[int, WorkItem]], int, str | None]:
        return self.number, self.items, self.in_flight, self.slots

    def __setstate__(self, state: tuple[int, list[tuple[int, WorkItem]], int, str | None]) -> None:
        self.number, self.items, self.in_flight, self.slots = state
        self.all_started = None

    @property
    def label(self) -> str:
        """``{prompt}-v{n}-{req_key}`` for a batch of one, else the range it holds."""
        first, last = self.items[0][1], self.items[-1][1]
        if len(self.items) == 1:
            return f"{first.label}-{first.req_key}"
        return f"batch-{self.number}-{first.label}..{last.label}-{len(self.items)}"


def batch_run_name(parameters: dict[str, Any]) -> str:
    batch = parameters.get("batch")
    return batch.label if isinstance(batch, Batch) and batch.items else "batch"


async def produce_one(
    item: WorkItem,
    bucket: S3Bucket,
    client_spec: ClientSpec,
    credentials: HaoeeCredentials | None,
) -> ImageRecord:
    """One attempt at one item: the item task's body, run inside the batch's task run.

    The plan has just listed S3, so the object is not looked up again (``skip_if_stored``
    off: the PUT is conditional instead).
    """
    record: ImageRecord = await produce_item(
        item.request,
        bucket,
        item.prefix,
        mode=item.mode,
        metadata=item.metadata,
        credentials=credentials,
        client_spec=client_spec,
        skip_if_stored=False,
        object_stem=item.object_stem,
    )
    return record


def error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


@asynccontextmanager
async def _held(gate: asyncio.Semaphore, slots: str | None) -> AsyncIterator[None]:
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(gate)
        if slots is not None:
            await stack.enter_async_context(
                concurrency(slots, occupy=1, strict=True, lease_duration=LEASE_SECONDS)
            )
        yield


async def _item_with_retries(
    item: WorkItem,
    slots: str | None,
    gate: asyncio.Semaphore,
    run: Callable[[WorkItem], Awaitable[ImageRecord]],
) -> ItemOutcome:
    """``run(item)`` with the item task's retry rules; the gate and slot are released
    while a retry waits."""
    logger = get_run_logger()
    for attempt in range(PAID_RETRIES + 1):
        try:
            async with _held(gate, slots):
                record = await run(item)
            return ItemOutcome(item=item, record=record)
        except Exception as exc:  # noqa: BLE001 - the item's end, as its task run's state was
            if attempt >= PAID_RETRIES or not is_retryable(exc):
                logger.warning("%s failed: %s", item.label, error_text(exc))
                return ItemOutcome(item=item, record=None, error=error_text(exc))
            delay = PAID_RETRY_DELAYS[min(attempt, len(PAID_RETRY_DELAYS) - 1)]
            wait = clamped_poisson_interval(delay, clamping_factor=RETRY_JITTER)
            logger.info(
                "Retry %d/%d of %s in %.1f s after %s",
                attempt + 1,
                PAID_RETRIES,
                item.label,
                wait,
                error_text(exc),
            )
        await asyncio.sleep(wait)
    raise AssertionError("unreachable: the last attempt returns")  # pragma: no cover


@task(
    name="haoee-produce-batch",
    task_run_name=batch_run_name,  # type: ignore[arg-type]
    cache_policy=NO_CACHE,
    persist_result=False,
    retries=0,
)
async def produce_batch(
    batch: Batch,
    bucket: S3Bucket,
    client_spec: ClientSpec,
    credentials: HaoeeCredentials | None = None,
) -> list[tuple[int, ItemOutcome]]:
    """Produce every item of ``batch`` concurrently; never fails for an item.

    In the flow's event loop (:func:`delivering`) the items share the flow's client and
    its gate (``2 x concurrency`` items in flight over all batches) and each item's end
    goes to the flow's sink as it comes (nothing is returned). Elsewhere (another task
    runner) the batch builds one client of ``client_spec`` for its items, lets
    ``in_flight`` of them run at once and returns their ends (plan index, outcome).
    """

    async def run(item: WorkItem) -> ImageRecord:
        return await produce_one(item, bucket, client_spec, credentials)

    delivery = _DELIVERY.get()
    sink, gate = None, asyncio.Semaphore(batch.in_flight)
    if delivery is not None and delivery[0] is asyncio.get_running_loop():
        _, sink, gate = delivery
    ends: list[tuple[int, ItemOutcome]] = []

    async def one(index: int, item: WorkItem) -> None:
        outcome = await _item_with_retries(item, batch.slots, gate, run)
        if sink is not None:
            await sink(index, outcome)
        else:
            ends.append((index, outcome))

    # A fixed set of workers pulling from the batch: no pending coroutine per item.
    queue = iter(batch.items)

    left = len(batch.items)

    async def worker() -> None:
        nonlocal left
        for index, item in queue:
            left -= 1
            if not left and batch.all_started is not None:  # the last one: the next may open
                batch.all_started.set()
            await one(index, item)
        if batch.all_started is not None:
            batch.all_started.set()

    # produce_item names the output bucket for the paid-step lock itself.
    async with AsyncExitStack() as stack:
        if sink is None:
            await stack.enter_async_context(shared_clients())
        await asyncio.gather(*(worker() for _ in range(min(batch.in_flight, len(batch.items)))))
    return ends
