"""A campaign's Prefect global concurrency limits, held across every worker.

* ``haoee-{campaign}``: items of the campaign in flight at once, over all its runs and
  shards (``limit`` = the campaign's ``concurrency``). Each item holds a slot with a
  lease the worker renews; a killed worker's slots come back when their lease ends.
* ``haoee-{campaign}-qps``: gateway calls per second of the campaign (``limit`` 1 with
  ``slot_decay_per_second`` = the campaign's ``qps``): every attempt of every call
  takes a slot, and the server lets the next one go only after ``1/qps`` s, whichever
  worker asks.

``haoee deploy`` creates both when missing (an existing limit is left as the operator
set it); a run uses the ones the server has, and otherwise holds ``concurrency`` and
``qps`` within each process only.
"""

from __future__ import annotations

import asyncio

from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

from prefect_haoee.campaigns import Campaign

LEASE_SECONDS = 60.0
"""Lease of a concurrency slot (the server's minimum): renewed while the item runs, so a
killed worker's slots return to the campaign within about a minute."""


def concurrency_limit_name(campaign: str) -> str:
    return f"haoee-{campaign}"


def rate_limit_name(campaign: str) -> str:
    return f"haoee-{campaign}-qps"


def campaign_limits(campaign: Campaign) -> list[GlobalConcurrencyLimitCreate]:
    return [
        GlobalConcurrencyLimitCreate(
            name=concurrency_limit_name(campaign.name), limit=campaign.concurrency
        ),
        GlobalConcurrencyLimitCreate(
            name=rate_limit_name(campaign.name), limit=1, slot_decay_per_second=campaign.qps
        ),
    ]


async def _exists(client: PrefectClient, name: str) -> bool:
    try:
        await client.read_global_concurrency_limit_by_name(name)
    except ObjectNotFound:
        return False
    return True


async def existing_limits(names: list[str]) -> set[str]:
    """Which of these Prefect global concurrency limits the server has (one look-up each)."""
    async with get_client() as client:
        found = await asyncio.gather(*(_exists(client, name) for name in names))
    return {name for name, there in zip(names, found, strict=True) if there}


async def ensure_limits(client: PrefectClient, campaigns: list[Campaign]) -> list[str]:
    """Create the limits of these campaigns that the server lacks; return their names."""
    created: list[str] = []
    for campaign in campaigns:
        for limit in campaign_limits(campaign):
            if await _exists(client, limit.name):
                continue
            try:
                await client.create_global_concurrency_limit(limit)
            except ObjectAlreadyExists:  # another deploy created it meanwhile
                continue
            created.append(limit.name)
    return created
