"""A plan keeps a few fields per item and rebuilds each item when asked."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from prefect_haoee.campaigns import Campaign, expand, make_plan
from tests.campaigns.support import campaign_dict

DAY = date(2025, 3, 1)


def make(changes: dict[str, Any] | None = None) -> Campaign:
    return Campaign.model_validate(campaign_dict(changes))


def test_rebuilt_items_are_the_planned_ones() -> None:
    campaign = make()
    items = expand(campaign, DAY)
    plan = make_plan(campaign, DAY, {items[1].object_stem, items[4].object_stem})
    assert plan.items == tuple(items)
    assert [plan.item(i) for i in range(plan.total)] == items
    assert list(plan.iter_items([5, 0])) == [(5, items[5]), (0, items[0])]
    assert list(plan.stored_indices()) == [1, 4]
    assert list(plan.pending()) == [0, 2, 3, 5]
    assert [plan.is_stored_at(i) for i in range(plan.total)] == [
        plan.is_stored(item) for item in items
    ]
    assert [plan.req_key_at(i) for i in range(plan.total)] == [i.req_key for i in items]
    assert [plan.cost_at(i) for i in range(plan.total)] == [i.cost for i in items]
    assert plan.cost == round(sum(items[i].cost for i in (0, 2, 3, 5)), 6)


def test_an_index_outside_the_plan_raises() -> None:
    plan = make_plan(make(), DAY)
    with pytest.raises(IndexError):
        plan.item(plan.total)
    with pytest.raises(IndexError):
        plan.item(-1)
