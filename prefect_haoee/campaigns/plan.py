"""Planning: a campaign becomes work items (one per prompt x variant), priced, before any call.

Planning is pure: no network, no S3. The caller lists the S3 objects already there and
passes their stems (``{prefix}/{request_hash}``) to :func:`make_plan`; items found there are
free. Budgets are checked on the plan (:meth:`Plan.check_budget`) before anything is paid.

A plan is compact: every item is built and checked once when it is made (all problems
raise together), then it keeps per prompt its position, variant count, price and model,
and per item one byte (stored or not). :meth:`Plan.item` rebuilds an item when the flow
reaches it (the build is deterministic, :func:`~prefect_haoee.campaigns.work_item.build_item`).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any, NamedTuple

from prefect_haoee.campaigns.budget import budget_problems
from prefect_haoee.campaigns.errors import BudgetExceededError, Problem
from prefect_haoee.campaigns.expansion import check_items, expand, walk
from prefect_haoee.campaigns.pricing import CURRENCY, is_guessed
from prefect_haoee.campaigns.spec import Campaign, PromptSpec
from prefect_haoee.campaigns.work_item import WorkItem, build_item

__all__ = ["Plan", "WorkItem", "check_items", "expand", "make_plan"]


class _Group(NamedTuple):
    """The items of one prompt: plan indices ``start .. start + variants - 1``."""

    start: int
    prompt_index: int
    prompt: PromptSpec
    variants: int
    cost: float
    req_key: str


class Plan:
    """The items of one run, which of them S3 already holds, and what the rest costs."""

    __slots__ = ("campaign", "run_date", "stored_stems", "_groups", "_starts", "_stored")

    def __init__(
        self,
        campaign: Campaign,
        run_date: date,
        groups: tuple[_Group, ...],
        stored: bytearray,
        stored_stems: frozenset[str] = frozenset(),
    ) -> None:
        self.campaign = campaign
        self.run_date = run_date
        self.stored_stems = stored_stems
        """Object stems of this plan's cacheable items already in S3."""
        self._groups = groups
        self._starts = [group.start for group in groups]
        self._stored = stored

    @property
    def common_prefix(self) -> str:
        """S3 prefix shared by all items of this run (list it to find stored items)."""
        return self.campaign.output.common_prefix(self.campaign.name, self.run_date)

    @property
    def total(self) -> int:
        return len(self._stored)

    def _group(self, index: int) -> _Group:
        if not 0 <= index < self.total:
            raise IndexError(f"plan index {index} out of range (0..{self.total - 1})")
        return self._groups[bisect_right(self._starts, index) - 1]

    def item(self, index: int) -> WorkItem:
        """Item ``index`` of the plan, built again (deterministic: the item planned)."""
        group = self._group(index)
        c, day, reader = self.campaign, self.run_date, self.campaign.reader
        variant = index - group.start
        item, _ = build_item(c, group.prompt_index, group.prompt, variant, day, group.cost, reader)
        if item is None:  # pragma: no cover - it was built when planned
            raise RuntimeError(f"plan item {index} no longer builds")
        return item

    def iter_items(self, indices: Iterable[int] | None = None) -> Iterator[tuple[int, WorkItem]]:
        """(plan index, item) of ``indices`` (default all), each built as it is reached."""
        for index in range(self.total) if indices is None else indices:
            yield index, self.item(index)

    def is_stored_at(self, index: int) -> bool:
        return bool(self._stored[index])

    def pending(self) -> Iterator[int]:
        """Plan indices of the items not in S3 yet: each is one paid gateway call."""
        return (index for index, flag in enumerate(self._stored) if not flag)

    def stored_indices(self) -> Iterator[int]:
        return (index for index, flag in enumerate(self._stored) if flag)

    def cost_at(self, index: int) -> float:
        return self._group(index).cost

    def req_key_at(self, index: int) -> str:
        return self._group(index).req_key

    @property
    def items(self) -> tuple[WorkItem, ...]:
        """Every item, built now (the flow goes through :meth:`iter_items` instead)."""
        return tuple(item for _, item in self.iter_items())

    def is_stored(self, item: WorkItem) -> bool:
        return item.cacheable and item.object_stem in self.stored_stems

    @property
    def stored(self) -> frozenset[str]:
        """Request hashes of the items already in S3 (free, skipped)."""
        return frozenset(item.request_hash for _, item in self.iter_items(self.stored_indices()))

    @property
    def to_generate(self) -> list[WorkItem]:
        """Items not in S3 yet, in plan order: each is one paid gateway call."""
        return [item for _, item in self.iter_items(self.pending())]

    @property
    def paid_calls(self) -> int:
        return self.total - sum(self._stored)

    @property
    def cost(self) -> float:
        """Cost in CNY of the paid calls (stored items are free)."""
        costs = (group.cost for group in self._groups for _ in range(group.variants))
        return round(sum(c for c, flag in zip(costs, self._stored, strict=True) if not flag), 6)

    @property
    def images_by_req_key(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for group in self._groups:
            counts[group.req_key] += group.variants
        return dict(counts)

    def budget_problems(self) -> list[Problem]:
        """Every budget rule this plan breaks (stored items are free)."""
        return budget_problems(
            self.campaign,
            images=self.total,
            paid_calls=self.paid_calls,
            cost=self.cost,
            req_keys=self.images_by_req_key,
        )

    def headline(self) -> str:
        """``NAME: 7 images, 0 already stored, 7 to generate (1.65 CNY)``: the run log's line."""
        return (
            f"{self.campaign.name}: {self.total} images, {self.total - self.paid_calls} already "
            f"stored, {self.paid_calls} to generate ({self.cost:.2f} {CURRENCY})"
        )

    def check_budget(self) -> None:
        """Raise ``BudgetExceededError`` when over ``max_images`` or ``max_cost``."""
        problems = self.budget_problems()
        if problems:
            raise BudgetExceededError(problems)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary: counts, cost, budget and one short row per item."""
        budget = self.campaign.budget
        prices = self.campaign.prices
        return {
            "campaign": self.campaign.name,
            "source": self.campaign.source,
            "run_date": self.run_date.isoformat(),
            "bucket": self.campaign.output.bucket,
            "prefix": self.common_prefix,
            "total": self.total,
            "stored": self.total - self.paid_calls,
            "paid_calls": self.paid_calls,
            "cost": self.cost,
            "currency": CURRENCY,
            "prices_guessed": sorted(k for k in self.images_by_req_key if is_guessed(k, prices)),
            "images_by_req_key": self.images_by_req_key,
            "budget": {
                "max_images": budget.max_images,
                "max_cost": budget.max_cost,
                "ok": not self.budget_problems(),
                "problems": [str(problem) for problem in self.budget_problems()],
            },
            "references": self.references,
            "items": [
                {**item.short(), "stored": self.is_stored_at(index)}
                for index, item in self.iter_items()
            ],
        }

    @property
    def references(self) -> list[dict[str, Any]]:
        """Each reference image of the plan once (source, bytes, sha256...), in order."""
        seen: dict[str, dict[str, Any]] = {}
        for _, item in self.iter_items():
            for ref in item.references:
                seen.setdefault(str(ref["source"]), dict(ref))
        return list(seen.values())


def make_plan(campaign: Campaign, run_date: date, stored_stems: Iterable[str] = ()) -> Plan:
    """Expand ``campaign`` for ``run_date``; ``stored_stems`` are the object stems found in S3
    (keys without extension). Raises ``CampaignError`` on invalid requests."""
    if not campaign.reader.read_objects:
        raise ValueError("this campaign was loaded without reading its S3 references")
    found = set(stored_stems)
    groups: list[_Group] = []
    stored = bytearray()
    mine: set[str] = set()
    for built in walk(campaign, run_date, None, None):
        item = built.item
        if groups and groups[-1].prompt_index == built.prompt_index:
            groups[-1] = groups[-1]._replace(variants=groups[-1].variants + 1)
        else:
            at = len(stored)
            groups.append(_Group(at, built.prompt_index, built.prompt, 1, built.cost, item.req_key))
        hit = item.cacheable and item.object_stem in found
        stored.append(hit)
        if hit:
            mine.add(item.object_stem)
    return Plan(campaign, run_date, tuple(groups), stored, frozenset(mine))
