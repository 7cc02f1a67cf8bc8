"""Campaigns: the YAML spec, its loading with located problems, planning and pricing.

Floor 2 (``docs/architecture.md``): imports only ``prefect_haoee.client`` - no Prefect. ::

    campaign = load_campaign("spring-launch.yaml")         # CampaignError on bad input
    plan = make_plan(campaign, date.today(), stored_stems)  # stems already in S3
    plan.check_budget()                                      # BudgetExceededError
    for item in plan.to_generate: ...                        # one paid call each
"""

from pathlib import Path

from prefect_haoee.campaigns.build import derive_seed
from prefect_haoee.campaigns.errors import BudgetExceededError, CampaignError, Problem
from prefect_haoee.campaigns.files import CampaignFileError, read_campaign_file
from prefect_haoee.campaigns.limits import CampaignLimits
from prefect_haoee.campaigns.loader import load_campaign, parse_campaign
from prefect_haoee.campaigns.plan import Plan, WorkItem, expand, make_plan
from prefect_haoee.campaigns.pricing import (
    CURRENCY,
    DEFAULT_PRICES,
    UnknownPriceError,
    price_for,
)
from prefect_haoee.campaigns.spec import (
    BudgetSpec,
    Campaign,
    CsvPromptSource,
    OutputSpec,
    PromptSpec,
    ScheduleSpec,
)

DEMO_CAMPAIGN: Path = Path(__file__).with_name("demo.yaml")
"""The demo campaign packaged with the library (``haoee demo``)."""


def load_demo_campaign() -> Campaign:
    return load_campaign(DEMO_CAMPAIGN)


__all__ = [
    "CURRENCY",
    "DEFAULT_PRICES",
    "DEMO_CAMPAIGN",
    "BudgetExceededError",
    "BudgetSpec",
    "Campaign",
    "CampaignError",
    "CampaignFileError",
    "CampaignLimits",
    "CsvPromptSource",
    "OutputSpec",
    "Plan",
    "Problem",
    "PromptSpec",
    "ScheduleSpec",
    "UnknownPriceError",
    "WorkItem",
    "derive_seed",
    "expand",
    "load_campaign",
    "load_demo_campaign",
    "make_plan",
    "parse_campaign",
    "price_for",
    "read_campaign_file",
]
