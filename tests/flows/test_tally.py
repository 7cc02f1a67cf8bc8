"""The table rows and gallery images a run keeps come back in the campaign's order."""

from __future__ import annotations

from datetime import date

from prefect_haoee.campaigns import Campaign, make_plan
from prefect_haoee.flows.result import ItemOutcome
from prefect_haoee.flows.tally import Tally
from tests.campaigns.support import campaign_dict


def test_rows_are_in_prompt_order_whatever_order_items_end_in() -> None:
    plan = make_plan(Campaign.model_validate(campaign_dict()), date(2027, 3, 1))
    tally = Tally()
    try:
        ending = [5, 0, 3, 1, 4, 2]  # concurrent items end in any order
        for index in ending:
            tally.add(ItemOutcome(item=plan.item(index), record=None, error="x"), index)
        expected = [(item.prompt_id, item.variant) for _, item in plan.iter_items()]
        assert [(row.prompt_id, row.variant) for row in tally.rows] == expected
    finally:
        tally.spool.close()
