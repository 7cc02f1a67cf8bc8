"""One campaign across many workers: shards as child flow runs of a shard deployment.

``run_campaign(..., shards=N)`` plans the campaign (one S3 LIST, the budget check), then
starts N flow runs of the deployment ``haoee-campaign-shard/{campaign}`` with
``run_deployment`` (as its subflows) and waits for them. Any worker of the pool picks a
shard up. Shard ``k`` re-plans the same campaign for the same date (the plan is
deterministic) and produces the items ``k, k+N, k+2N, ...`` that S3 does not hold yet,
exactly as the unsharded flow would (one task run per item, the paid steps committed to
result storage and guarded by the lock, the campaign's global concurrency and rate
limits). It writes its items' manifest entries to
``{prefix}/shards/{parent run id}/{k}-of-{N}.json`` in the output bucket; the parent reads
them all back, so its manifest, table, gallery and events cover every shard, and then
deletes them. An item of a shard that died without a record is a failed item of the
parent run (a rerun produces it, without paying again for what was committed).

Why child flow runs rather than task workers (``.delay()``): shards then run on the work
pool that already runs the campaign (the same ``prefect worker start`` processes, the
same infrastructure and job variables, nothing else to deploy or keep alive), each one is
a flow run with its own state, logs, retries and cancellation in the UI, and a shard is
the unsharded flow's code on a slice of the plan (not a second execution path).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from typing import Any

import anyio
from prefect.client.schemas.objects import FlowRun, State
from prefect.deployments import arun_deployment
from prefect.runtime import flow_run
from prefect.states import Completed, Failed
from prefect_aws.s3 import S3Bucket

from prefect_haoee.blocks import HaoeeCredentials, named_credentials
from prefect_haoee.campaigns import Campaign, WorkItem, load_campaign
from prefect_haoee.flows.campaign_param import (
    campaign_flow,
    is_stored_reference,
    load_stored_campaign,
    store_campaign,
)
from prefect_haoee.flows.destination import campaign_bucket, default_bucket
from prefect_haoee.flows.items import plan_campaign, produce_items, stored_outcomes
from prefect_haoee.flows.manifest import (
    ManifestEntry,
    build_manifest,
    entry_for,
    read_manifest,
    record_from_entry,
    write_manifest,
)
from prefect_haoee.flows.observe import Progress
from prefect_haoee.flows.result import ItemOutcome
from prefect_haoee.tasks.storage import full_key, s3_client

SHARD_FLOW = "haoee-campaign-shard"
MAX_SHARDS = 64
SHARD_POLL_SECONDS = 2.0
"""How often the parent reads a shard's state while it waits."""


class ShardingError(ValueError):
    """A sharded run that cannot start (nothing was paid)."""


def shard_deployment_name(campaign: str) -> str:
    return f"{SHARD_FLOW}/{campaign}"


def shard_indices(total: int, shard: int, shards: int) -> range:
    """The plan indices of shard ``shard`` of ``shards`` (round robin: even shards)."""
    return range(shard, total, shards)


def shard_manifest_key(base: str, parent: str, shard: int, shards: int) -> str:
    name = f"shards/{parent}/{shard}-of-{shards}.json"
    return f"{base}/{name}" if base else name


def _item_key(entry: ManifestEntry | WorkItem) -> tuple[str, int, str, str]:
    prompt = entry.prompt_id
    return (prompt, entry.variant, entry.req_key, entry.request_hash)


def _shard_run_name() -> str:
    params = flow_run.parameters
    campaign = params.get("campaign")
    name = campaign.name if isinstance(campaign, Campaign) else "haoee-campaign"
    if isinstance(campaign, str):
        name = campaign.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return f"{name}-{params.get('run_date')}-shard-{params.get('shard')}-of-{params.get('shards')}"


@campaign_flow(name=SHARD_FLOW, flow_run_name=_shard_run_name, persist_result=False)
async def run_campaign_shard(
    campaign: Campaign | str,
    run_date: date,
    shard: int,
    shards: int,
    manifest_key: str,
    bucket_block: str | None = None,
    credentials_block: str | None = None,
) -> State[dict[str, int]]:
    """Produce shard ``shard`` of ``shards`` of a campaign's items; write their entries."""
    if not 0 <= shard < shards <= MAX_SHARDS:
        raise ShardingError(f"shard {shard} of {shards}: need 0 <= shard < shards <= {MAX_SHARDS}")
    bucket = await S3Bucket.aload(bucket_block) if bucket_block else None
    if isinstance(campaign, Campaign):
        spec = campaign
    elif is_stored_reference(campaign):
        holder = bucket or default_bucket(campaign.removeprefix("s3://").split("/", 1)[0])
        spec = await anyio.to_thread.run_sync(load_stored_campaign, holder, campaign)
    else:
        spec = load_campaign(campaign)
    s3 = campaign_bucket(spec, bucket)
    credentials = named_credentials(credentials_block or spec.credentials_block)
    plan, base = await plan_campaign(spec, run_date, s3)
    mine = set(shard_indices(plan.total, shard, shards))
    outcomes = await stored_outcomes(plan, base, s3, mine)
    remaining = [i for i in sorted(mine) if i not in outcomes]
    if remaining:  # the parent shows progress and emits the events

        async def finished(index: int, outcome: ItemOutcome) -> None:
            outcomes[index] = outcome

        await produce_items(spec, plan, remaining, finished, s3, credentials)
    entries = [entry_for(o.item, o.record, o.error) for _, o in sorted(outcomes.items())]
    manifest = build_manifest(spec.name, run_date.isoformat(), s3.bucket_name, entries)
    await anyio.to_thread.run_sync(write_manifest, s3, manifest_key, manifest)
    summary = {"shard": shard, "items": len(mine), "done": manifest.done, "failed": manifest.failed}
    if manifest.failed:
        return Failed(message=f"{manifest.failed} of {len(mine)} items failed", data=summary)
    return Completed(message=f"{manifest.done} items", data=summary)


def _block_name(block: Any, what: str) -> str | None:
    """The saved name of a block parameter (shards load it by name), None for no block."""
    if block is None:
        return None
    name = getattr(block, "_block_document_name", None)
    if not name:
        raise ShardingError(f"sharding needs a saved {what} block (shards load it by name)")
    return str(name)


class ShardedRun:
    """The parent's side: start the shards, wait for them, gather their outcomes."""

    def __init__(
        self,
        spec: Campaign,
        campaign: Campaign | str,
        day: date,
        shards: int,
        base: str,
        s3: S3Bucket,
        bucket: S3Bucket | None,
        credentials: HaoeeCredentials | None,
    ) -> None:
        self.spec, self.day, self.shards, self.base, self.s3 = spec, day, shards, base, s3
        self.campaign: Campaign | str = campaign
        """By reference to the shards: a path the workers have, or (an object) the
        campaign stored in the bucket by :meth:`produce`."""
        self.bucket_block = _block_name(bucket, "bucket")
        self.credentials_block = _block_name(credentials, "credentials")
        self.parent = flow_run.id or uuid.uuid4().hex

    def parameters(self, shard: int) -> dict[str, Any]:
        return {
            "campaign": self.campaign,
            "run_date": self.day.isoformat(),
            "shard": shard,
            "shards": self.shards,
            "manifest_key": shard_manifest_key(self.base, self.parent, shard, self.shards),
            "bucket_block": self.bucket_block,
            "credentials_block": self.credentials_block,
        }

    async def _one(self, shard: int, count: int, progress: Progress) -> FlowRun:
        run = await arun_deployment(
            shard_deployment_name(self.spec.name),
            parameters=self.parameters(shard),
            poll_interval=SHARD_POLL_SECONDS,
            as_subflow=True,
            # A retry of the parent finds its shards again instead of starting new ones.
            idempotency_key=f"{self.parent}:{shard}-of-{self.shards}",
        )
        await progress.advance(count)
        return run

    async def produce(
        self,
        remaining: list[tuple[int, WorkItem]],
        outcomes: dict[int, ItemOutcome],
        progress: Progress,
    ) -> None:
        """Outcomes of the ``remaining`` items, from the shards' manifests."""
        if isinstance(self.campaign, Campaign):
            self.campaign = await anyio.to_thread.run_sync(store_campaign, self.s3, self.campaign)
        counts = [0] * self.shards
        for index, _ in remaining:
            counts[index % self.shards] += 1
        runs = await asyncio.gather(
            *(self._one(k, counts[k], progress) for k in range(self.shards))
        )
        found: dict[tuple[str, int, str, str], tuple[ManifestEntry, int]] = {}
        for shard in range(self.shards):
            key = shard_manifest_key(self.base, self.parent, shard, self.shards)
            manifest = await anyio.to_thread.run_sync(read_manifest, self.s3, key)
            for entry in manifest.items if manifest else []:
                found[_item_key(entry)] = (entry, shard)
        for index, item in remaining:
            shard = index % self.shards
            hit = found.get(_item_key(item))
            if hit is None:
                state = runs[shard].state_name or "unknown"
                lost = f"shard {shard} of {self.shards} ended {state} without a record of it"
                outcomes[index] = ItemOutcome(item=item, record=None, error=lost)
                continue
            entry = hit[0]
            record = record_from_entry(entry, self.s3.bucket_name)
            if record is not None:  # as the shard reported it: paid or resumed there
                update: dict[str, Any] = {
                    "cost_units": entry.cost_units,
                    "cache_hit": entry.cost_units == 0,
                }
                if entry.source in ("generated", "resumed", "s3"):
                    update["source"] = entry.source
                record = record.model_copy(update=update)
            error = None if record else (entry.error or f"shard {shard} stored no object")
            outcomes[index] = ItemOutcome(item=item, record=record, error=error)
        await anyio.to_thread.run_sync(self._clean_up)

    def _clean_up(self) -> None:
        """Delete this run's shard manifests (the run's own manifest now holds them)."""
        client = s3_client(self.s3)
        for shard in range(self.shards):
            key = shard_manifest_key(self.base, self.parent, shard, self.shards)
            client.delete_object(Bucket=self.s3.bucket_name, Key=full_key(self.s3, key))
