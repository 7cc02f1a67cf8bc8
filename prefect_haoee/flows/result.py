"""What a campaign run returns: counts, costs, records and failures (no secrets)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from prefect_haoee.campaigns import Campaign, Plan, WorkItem
from prefect_haoee.tasks.records import ImageRecord

if TYPE_CHECKING:
    from prefect_haoee.flows.tally import Tally


class ItemOutcome(BaseModel):
    """One item's end: its record, or the error that stopped it."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    item: WorkItem
    record: ImageRecord | None
    error: str | None = None

    @property
    def label(self) -> str:
        return self.item.label


class ItemSummary(BaseModel):
    """One row of the campaign table (UI artifact and CLI)."""

    prompt_id: str
    variant: int
    req_key: str
    seed: int | None
    status: str
    s3_key: str
    size: str
    bytes: int
    seconds: float
    cache_hit: bool
    cost: float
    reseeds: int = 0
    """New seeds tried after output moderation (50511/50519) before this image passed."""
    error: str
    paid_twice_with: str = ""
    """Another run that paid for this same image too (empty: paid once, or not at all)."""

    @classmethod
    def of(cls, outcome: ItemOutcome, paid_twice_with: str | None = None) -> ItemSummary:
        item, record = outcome.item, outcome.record
        other = paid_twice_with or (record.paid_twice_with if record else None)
        return cls(
            prompt_id=item.prompt_id,
            variant=item.variant,
            req_key=item.req_key,
            seed=record.seed if record else item.seed,
            status="done" if record else "failed",
            s3_key=record.key if record else "",
            size=f"{record.width}x{record.height}" if record else "",
            bytes=record.bytes if record else 0,
            seconds=round(record.timings.total_s, 3) if record else 0.0,
            cache_hit=record.cache_hit if record else False,
            cost=round(item.cost * record.cost_units, 6) if record else 0.0,
            reseeds=record.reseeds if record else 0,
            error=outcome.error or "",
            paid_twice_with=other or "",
        )


class Failure(BaseModel):
    label: str
    prompt_id: str
    variant: int
    req_key: str
    error: str

    @classmethod
    def of(cls, outcome: ItemOutcome) -> Failure:
        item = outcome.item
        return cls(
            label=item.label,
            prompt_id=item.prompt_id,
            variant=item.variant,
            req_key=item.req_key,
            error=outcome.error or "failed",
        )


class CampaignResult(BaseModel):
    campaign: str
    run_date: str
    bucket: str
    prefix: str
    manifest_key: str
    total: int
    done: int
    failed: int
    stored_before: int
    paid_calls: int
    """Billable gateway generations this run actually made."""
    paid_twice: int = 0
    """Images another run paid for too (two runs of this campaign without a shared lock):
    the rows whose ``paid_twice_with`` names the other run; the manifest says the same."""
    cost: float
    seconds: float
    records: list[ImageRecord]
    """The first ``flows.tally.ROWS_MAX`` records (the manifest holds every item)."""
    failures: list[Failure]
    """The first ``flows.tally.FAILURES_MAX`` failures (``failed`` counts them all)."""
    items: list[ItemSummary]
    """The first ``flows.tally.ROWS_MAX`` rows of the table artifact."""

    @classmethod
    def build(
        cls,
        spec: Campaign,
        plan: Plan,
        tally: Tally,
        bucket: str,
        prefix: str,
        manifest_key: str,
        started: float,
        paid_twice: int = 0,
    ) -> CampaignResult:
        return cls(
            campaign=spec.name,
            run_date=plan.run_date.isoformat(),
            bucket=bucket,
            prefix=prefix,
            manifest_key=manifest_key,
            total=plan.total,
            done=tally.done,
            failed=tally.failed,
            stored_before=plan.total - plan.paid_calls,
            paid_calls=tally.paid_calls,
            paid_twice=paid_twice,
            cost=round(tally.cost, 6),
            seconds=round(time.perf_counter() - started, 3),
            records=tally.records,
            failures=tally.failures,
            items=tally.rows,
        )

    def event_payload(self) -> dict[str, Any]:
        return self.model_dump(exclude={"records", "items"})

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        """Counts in place of the per-item lists (records, items): a repr of thousands of
        records helps no one, and Prefect and asyncio take reprs of a flow's result (each
        costs ~30 ms per 1,000 items)."""
        for name, value in super().__repr_args__():
            if name in _COUNTED_FIELDS and isinstance(value, list):
                yield name, _Count(len(value))
            else:
                yield name, value


_COUNTED_FIELDS = frozenset({"records", "items"})


class _Count(int):
    def __repr__(self) -> str:
        return f"[...{int(self)} items]"
