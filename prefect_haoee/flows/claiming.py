"""A campaign run claims the items it is about to pay for, all at once, before paying.

With the S3 claims (``HAOEE_LOCK_URL`` auto or s3), :func:`claimed_items` takes one claim
set for the run's remaining items (:mod:`~prefect_haoee.tasks.claim_sets`: a few S3
requests per run instead of two conditional PUTs per image), lists S3 again (an item
another run stored before the claim is taken from there, not paid), and holds the set,
renewed every third of its lease, while the items run; their paid steps then need no
per-item claim (``tasks.claim_scope``). Items another claim held run as single items:
they wait for its holder, then take what it stored. Other backends (file, Redis) claim
per paid step as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Sequence

import anyio
from prefect_aws.s3 import S3Bucket

from prefect_haoee.campaigns import Plan
from prefect_haoee.flows.batch import Sink
from prefect_haoee.flows.result import ItemOutcome
from prefect_haoee.tasks.claim_scope import (
    claim_set_held,
    claim_sets_for,
    current_run_id,
    set_lock_name,
)
from prefect_haoee.tasks.claim_sets import ClaimSets, HeldSet
from prefect_haoee.tasks.digest_set import DigestSet, digest
from prefect_haoee.tasks.item_claims import item_claim_key
from prefect_haoee.tasks.lock_settings import lock_settings
from prefect_haoee.tasks.locks import file_locks, local_domain, new_holder
from prefect_haoee.tasks.s3_ledger import stored_record
from prefect_haoee.tasks.storage import list_stems

logger = logging.getLogger("prefect_haoee.flows")


@contextlib.asynccontextmanager
async def claimed_items(
    plan: Plan, remaining: Sequence[int], bucket: S3Bucket, sink: Sink
) -> AsyncIterator[list[int]]:
    """Claim ``remaining`` for this run; yield the indices still to produce (items S3 got
    meanwhile go to ``sink`` as stored). Inside, paid steps of claimed items take no
    per-item claim."""
    sets = claim_sets_for(bucket)
    if sets is None or not remaining:
        yield list(remaining)
        return
    wanted = DigestSet(
        digest(key)
        for _, item in plan.iter_items(remaining)
        if item.cacheable and (key := item_claim_key(item.request, item.mode))
    )
    holder = new_holder()
    set_id = uuid.uuid4().hex
    locks = file_locks(lock_settings().directory) if local_domain() else None
    if locks is not None:  # while we hold it, our set is alive to this machine
        locks.acquire_lock(set_lock_name(set_id), holder, acquire_timeout=0)
    try:
        held = await anyio.to_thread.run_sync(
            sets.acquire, wanted, current_run_id(), holder, set_id
        )
        if held.left_out:
            logger.info(
                "%d item(s) are claimed by another run or item: they wait for it",
                len(held.left_out),
            )
        renewer = asyncio.ensure_future(_renew(sets, held))
        try:
            todo = await _not_stored_yet(plan, remaining, bucket, sink)
            with claim_set_held(held):
                yield todo
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            try:
                await anyio.to_thread.run_sync(sets.release, held)
            except Exception as exc:  # noqa: BLE001 - the set's lease runs out on its own
                logger.warning("Releasing the run's claim set failed: %s", exc)
    finally:
        if locks is not None:
            locks.release_lock(set_lock_name(set_id), holder)


async def _not_stored_yet(
    plan: Plan, remaining: Sequence[int], bucket: S3Bucket, sink: Sink
) -> list[int]:
    """``remaining`` less what S3 holds now (listed after claiming); those go to ``sink``."""
    stems = await anyio.to_thread.run_sync(list_stems, bucket, plan.common_prefix)
    new = stems - plan.stored_stems
    if not new:
        return list(remaining)
    todo: list[int] = []
    for index, item in plan.iter_items(remaining):
        if not (item.cacheable and item.object_stem in new):
            todo.append(index)
            continue
        record = await anyio.to_thread.run_sync(
            stored_record, item.request, bucket, item.object_stem
        )
        if record is None:  # listed but gone, or not this item's: produce it
            todo.append(index)
        else:
            await sink(index, ItemOutcome(item=item, record=record))
    return todo


async def _renew(sets: ClaimSets, held: HeldSet) -> None:
    every = sets.lease_seconds / 3
    while not held.lost:
        await asyncio.sleep(every)
        try:
            alive = await anyio.to_thread.run_sync(sets.renew, held)
        except Exception as exc:  # noqa: BLE001 - try again next time; the lease still runs
            logger.warning("Renewing the run's claim set failed: %s", exc)
            continue
        if not alive:
            logger.error(
                "The run's claim set expired (not renewed within its lease): its items take "
                "per-item claims from now on"
            )
