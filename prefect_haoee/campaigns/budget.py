"""The budget rules (``budget.max_images``, ``budget.max_cost``), written once for every caller.

A plan checks them with what S3 already holds (stored items are free); ``haoee validate``
and the loader, which have no S3, check them as a first run would spend: every item paid.
Both go through :func:`budget_problems`, so a file is refused with the same messages, and
with every rule it breaks at once.
"""

from __future__ import annotations

from collections.abc import Iterable

from prefect_haoee.campaigns.errors import Problem
from prefect_haoee.campaigns.item_count import max_images_message
from prefect_haoee.campaigns.pricing import CURRENCY, UnknownPriceError, is_guessed, price_for
from prefect_haoee.campaigns.spec import Campaign, PromptSpec


def budget_problems(
    campaign: Campaign, *, images: int, paid_calls: int, cost: float, req_keys: Iterable[str]
) -> list[Problem]:
    """One problem per budget rule broken: ``images`` work items in all, of which
    ``paid_calls`` are paid for ``cost`` CNY (``req_keys``: the models priced)."""
    budget, source = campaign.budget, campaign.source
    problems = []
    if budget.max_images is not None and images > budget.max_images:
        message = max_images_message(images, budget.max_images)
        problems.append(Problem(source, "budget.max_images", message))
    if budget.max_cost is not None and cost > budget.max_cost:
        guessed = any(is_guessed(key, campaign.prices) for key in req_keys)
        note = " (default prices are guesses: set 'prices')" if guessed else ""
        problems.append(
            Problem(
                source,
                "budget.max_cost",
                f"the {paid_calls} paid calls cost {cost:.2f} {CURRENCY}{note}, "
                f"above max_cost {budget.max_cost:.2f}",
            )
        )
    return problems


def first_run_problems(campaign: Campaign) -> list[Problem]:
    """The budget as a run with nothing stored yet would spend it (each prompt's variants
    at its model's price), from the campaign alone: no item is built, nothing is read.
    A model without a price adds nothing here (the loader reports it on its own)."""
    images, cost, req_keys = 0, 0.0, set()
    for entry in campaign.prompts:
        if not isinstance(entry, PromptSpec):  # from_csv not resolved: not countable here
            continue
        variants = campaign.variants_for(entry)
        req_key = campaign.req_key_for(entry)
        images += variants
        try:
            cost += variants * price_for(req_key, campaign.prices)
        except UnknownPriceError:
            continue
        req_keys.add(req_key)
    cost = round(cost, 6)
    return budget_problems(campaign, images=images, paid_calls=images, cost=cost, req_keys=req_keys)
