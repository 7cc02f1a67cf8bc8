"""Expanding a campaign: every prompt x variant built and checked, all problems at once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import NamedTuple

from prefect_haoee.campaigns.build import prompt_problems
from prefect_haoee.campaigns.errors import CampaignError, Problem
from prefect_haoee.campaigns.item_count import check_item_count
from prefect_haoee.campaigns.limits import CampaignLimits
from prefect_haoee.campaigns.pricing import UnknownPriceError, price_for
from prefect_haoee.campaigns.references import ReferenceReader
from prefect_haoee.campaigns.spec import Campaign, PromptSpec
from prefect_haoee.campaigns.work_item import WorkItem, build_item


class Built(NamedTuple):
    prompt_index: int
    """Position of the prompt in ``campaign.prompts``."""
    prompt: PromptSpec
    cost: float
    item: WorkItem


def expand(
    campaign: Campaign,
    run_date: date,
    references: ReferenceReader | None = None,
    *,
    max_items: int | None = None,
) -> list[WorkItem]:
    """Every prompt x variant as a work item; all problems raise one ``CampaignError``.

    The items are counted first: above ``max_items`` (default ``HAOEE_CAMPAIGN_MAX_ITEMS``)
    nothing is built (:mod:`prefect_haoee.campaigns.item_count`). Reference images are read
    through ``references`` (default: the campaign's reader, which reads each at most once).
    """
    return [built.item for built in walk(campaign, run_date, references, max_items)]


def check_items(
    campaign: Campaign,
    run_date: date,
    references: ReferenceReader | None = None,
    *,
    max_items: int | None = None,
) -> None:
    """What :func:`expand` checks, without keeping the items (the loader validates a file
    this way: memory stays at one item plus a stem per item)."""
    for _ in walk(campaign, run_date, references, max_items):
        pass


def walk(
    campaign: Campaign,
    run_date: date,
    references: ReferenceReader | None,
    max_items: int | None,
) -> Iterator[Built]:
    """Each item as it is built; once all are, every problem found raises together (so a
    caller keeps nothing of an invalid campaign)."""
    cap = CampaignLimits().max_items if max_items is None else max_items
    check_item_count(campaign, None, cap, with_budget=False)  # the budget is the plan's
    reader = references or campaign.reader
    problems: list[Problem] = []
    stems: dict[str, str] = {}
    for index, entry in enumerate(campaign.prompts):
        if not isinstance(entry, PromptSpec):
            at = campaign.locate(index, ("from_csv",))
            problems.append(Problem(*at, "from_csv is resolved by load_campaign(path) only"))
            continue
        found = prompt_problems(campaign, index, entry)
        req_key = campaign.req_key_for(entry)
        try:
            cost = price_for(req_key, campaign.prices)
        except UnknownPriceError as exc:
            at = campaign.locate(index, ("model",)) if entry.model else (campaign.source, "model")
            found.append(Problem(*at, str(exc)))
        if found:
            problems.extend(found)
            continue
        for variant in range(campaign.variants_for(entry)):
            item, errors = build_item(campaign, index, entry, variant, run_date, cost, reader)
            if item is None:
                problems.extend(errors)
                break  # the other variants differ only by seed: same problems
            if item.cacheable and item.object_stem in stems:
                at = campaign.locate(index, ("seed",) if entry.seed is not None else ())
                message = (
                    f"variant {variant} of {entry.id!r} is the same request as "
                    f"{stems[item.object_stem]} (same image and S3 object); change its "
                    "seed, prompt or params"
                )
                problems.append(Problem(*at, message))
            stems.setdefault(item.object_stem, f"variant {variant} of {entry.id!r}")
            yield Built(index, entry, cost, item)
    if problems:
        raise CampaignError(problems)
