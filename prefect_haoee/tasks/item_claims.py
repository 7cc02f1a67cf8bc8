"""An item and the claims of other runs: the key it is claimed under, and giving way.

A campaign run claims its items with one claim set (``tasks.claim_sets``). A single item
whose paid step meets another run's set gets ``ClaimedBySetError`` before paying:
:func:`answer_or_stored` then waits for that run and takes the file it stored, and pays
only if that run did not store it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import anyio
from prefect_aws.s3 import S3Bucket

from prefect_haoee.client import GeneratedImages
from prefect_haoee.client.catalog import Mode
from prefect_haoee.client.protocol import AnyRequest
from prefect_haoee.tasks.cache import step_key
from prefect_haoee.tasks.claim_scope import await_set_release, reporting_done_sets
from prefect_haoee.tasks.errors import ClaimedBySetError
from prefect_haoee.tasks.records import ImageRecord
from prefect_haoee.tasks.s3_ledger import stored_record

if TYPE_CHECKING:
    from prefect_haoee.tasks.item_runner import ItemRunner

GIVE_WAY_LIMIT = 3
"""Times an item gives way to other runs' claim sets before it fails (unpaid)."""


def item_claim_key(request: AnyRequest, mode: Mode) -> str | None:
    """The key an item is claimed under: that of its first paid step (None when random)."""
    if not request.is_deterministic:
        return None
    steps = request.step_names
    step = steps.generate if mode == "sync" else steps.submit
    return step_key(step, request.request_hash)


async def answer_or_stored(
    new_run: Callable[[], ItemRunner], bucket: S3Bucket, stem: str, max_reseeds: int
) -> tuple[ItemRunner, GeneratedImages] | ImageRecord:
    """The paid answer, or the record of what another campaign run (its claim set held the
    request: nothing was paid here) stored meanwhile."""
    looked: set[str] = set()
    for attempt in range(1, GIVE_WAY_LIMIT + 1):
        run = new_run()
        try:
            with reporting_done_sets(frozenset(looked)):
                return run, await run.generate(max_reseeds)
        except ClaimedBySetError as exc:
            if exc.held:
                await await_set_release(bucket, exc.key)
            found = await anyio.to_thread.run_sync(
                stored_record, run.original, bucket, stem, run.mode
            )
            if found is not None:
                return found
            if attempt == GIVE_WAY_LIMIT:
                raise
            looked.add(exc.key)
    raise AssertionError("unreachable: the last attempt returns or raises")  # pragma: no cover
