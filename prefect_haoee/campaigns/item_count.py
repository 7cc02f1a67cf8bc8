"""How many work items a campaign makes, counted before any is built, and the caps on it.

A campaign makes ``sum(variants of each prompt)`` items (a CSV row has the campaign's
``variants``). That number is known from the file alone, so ``budget.max_images`` and the
hard cap (``HAOEE_CAMPAIGN_MAX_ITEMS``) refuse a campaign at once: ``variants: 1000000000``
is refused in microseconds instead of being built item by item.
"""

from __future__ import annotations

from collections.abc import Mapping

from prefect_haoee.campaigns.errors import BudgetExceededError, CampaignError, Problem
from prefect_haoee.campaigns.spec import Campaign, PromptSpec


def max_images_message(total: int, max_images: int) -> str:
    return (
        f"the plan has {total} images (prompts x variants), above max_images {max_images}; "
        "raise the budget or drop prompts/variants"
    )


def item_counts(
    campaign: Campaign, csv_records: Mapping[int, int] | None = None
) -> list[tuple[tuple[str, str], int]]:
    """``((file, path), items)`` of each prompt entry: an inline prompt's variants, or a
    ``from_csv`` source's records x the campaign's variants (``csv_records`` by index)."""
    counts = []
    for index, entry in enumerate(campaign.prompts):
        if isinstance(entry, PromptSpec):
            at = (
                campaign.locate(index, ("variants",))
                if entry.variants
                else (campaign.source, "variants")
            )
            counts.append((at, campaign.variants_for(entry)))
        elif csv_records is not None and index in csv_records:
            at = (campaign.source, f"prompts[{index}].from_csv")
            counts.append((at, csv_records[index] * campaign.variants))
    return counts


def check_item_count(
    campaign: Campaign,
    csv_records: Mapping[int, int] | None,
    max_items: int,
    *,
    with_budget: bool = True,
) -> int:
    """The number of items; ``CampaignError`` above ``max_items`` (located at the biggest
    contributor), ``BudgetExceededError`` above ``budget.max_images`` (``with_budget``)."""
    counts = item_counts(campaign, csv_records)
    total = sum(count for _at, count in counts)
    max_images = campaign.budget.max_images if with_budget else None
    if total > max_items:
        at, _count = max(counts, key=lambda pair: pair[1])
        message = (
            f"the campaign makes {total:,} work items (prompts x variants), above the limit "
            f"of {max_items:,} per campaign (HAOEE_CAMPAIGN_MAX_ITEMS); split it into "
            "several campaign files"
        )
        problems = [Problem(*at, message)]
        if max_images is not None and total > max_images:
            problems.append(
                Problem(campaign.source, "budget.max_images", max_images_message(total, max_images))
            )
        raise CampaignError(problems)
    if max_images is not None and total > max_images:
        message = max_images_message(total, max_images)
        raise BudgetExceededError([Problem(campaign.source, "budget.max_images", message)])
    return total
