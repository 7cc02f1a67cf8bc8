"""Prefect flows: the campaign flow, its artifacts, events and manifest."""

from prefect_haoee.flows.campaign import run_campaign
from prefect_haoee.flows.listeners import listening
from prefect_haoee.flows.result import CampaignResult

__all__ = ["CampaignResult", "listening", "run_campaign"]
