"""The progress bar of ``haoee run`` and ``haoee demo``: one line per failed item above it.

The listener runs inside the flow, so it never raises: an item's error (gateway text) is
printed as plain text, and a failure to print is logged, not turned into a lost run.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date
from typing import Any

from prefect_haoee.campaigns import Campaign, Plan
from prefect_haoee.commands import logs
from prefect_haoee.commands.render import errors, line

logger = logging.getLogger("prefect_haoee.cli")


def run_with_progress(campaign: Campaign, the_plan: Plan, run_date: date, show: bool) -> Any:
    """Run the campaign flow in this process; its final state."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from prefect_haoee.flows import listening, run_campaign

    logs.route_logs(errors)  # after the flow stack configured Prefect's logging
    bar = (
        Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=errors,
        )
        if show
        else None
    )
    task_id = bar.add_task(campaign.name, total=the_plan.total) if bar is not None else None

    def finished(item: Any, record: Any, error: str | None) -> None:
        if bar is None or task_id is None:
            return
        try:
            bar.advance(task_id)
            if error:
                errors.print(line("  ", ("✗", "red"), f" {item.label}: {error}"), soft_wrap=True)
        except Exception:
            logger.exception("could not show the progress of %s", getattr(item, "label", item))

    async def flow() -> Any:
        return await run_campaign(campaign, run_date=run_date, return_state=True)

    with listening(finished):
        if bar is not None:
            bar.start()
        try:
            return asyncio.run(flow())
        finally:
            if bar is not None:
                bar.stop()
            logs.flush()
