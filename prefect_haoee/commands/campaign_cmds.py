"""``haoee validate | plan | run``: check, price and run a campaign file.

Exit codes: 0 all done, 1 some items failed (the others kept), 2 invalid input (nothing
was called: bad file, over budget, missing bucket).
"""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from prefect_haoee.campaigns import Campaign, CampaignError, Plan, Problem, load_campaign
from prefect_haoee.commands.render import (
    console,
    errors,
    print_json,
    show_plan,
    show_problems,
    show_references,
    show_result,
)

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


def load_or_report(path: Path, as_json: bool, check_objects: bool = True) -> Campaign | None:
    try:
        campaign = load_campaign(path, check_objects=check_objects)
        from prefect_haoee.campaigns import expand

        expand(campaign, date.today())  # every request validated, no network
    except CampaignError as exc:
        show_problems(exc, as_json)
        return None
    return campaign


def validate(path: Path, check_objects: bool = False) -> int:
    campaign = load_or_report(path, as_json=False, check_objects=check_objects)
    if campaign is None:
        return EXIT_INVALID
    console.print(f"[green]✓[/] {path}: campaign {campaign.name!r} is valid")
    return EXIT_OK


def _bucket_problem(campaign: Campaign, exc: Exception) -> CampaignError:
    code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
    what = "does not exist" if code == "NoSuchBucket" else f"cannot be read ({exc})"
    return CampaignError(
        [Problem(campaign.source, "output.bucket", f"bucket {campaign.output.bucket!r} {what}")]
    )


def make_checked_plan(campaign: Campaign, run_date: date) -> Plan:
    """Plan against S3 (what is stored) and check the budget; CampaignError if invalid."""
    from prefect_haoee.campaigns import make_plan
    from prefect_haoee.flows.destination import campaign_bucket
    from prefect_haoee.tasks.storage import list_stems

    bucket = campaign_bucket(campaign)
    try:
        stems = list_stems(bucket, campaign.output.common_prefix(campaign.name, run_date))
    except (ClientError, BotoCoreError) as exc:
        raise _bucket_problem(campaign, exc) from None
    plan = make_plan(campaign, run_date, stems)
    plan.check_budget()
    return plan


def load_and_plan(path: Path, run_date: date, as_json: bool) -> tuple[Campaign, Plan] | None:
    """The campaign and its checked plan, or None after reporting why (exit code 2)."""
    campaign = load_or_report(path, as_json)
    if campaign is None:
        return None
    try:
        return campaign, make_checked_plan(campaign, run_date)
    except CampaignError as exc:
        show_problems(exc, as_json)
        return None


def plan(path: Path, run_date: date, as_json: bool) -> int:
    loaded = load_and_plan(path, run_date, as_json)
    if loaded is None:
        return EXIT_INVALID
    if as_json:
        print_json({"ok": True, **loaded[1].summary()})
    else:
        show_plan(loaded[1])
    return EXIT_OK


def run(path: Path, run_date: date, as_json: bool) -> int:
    loaded = load_and_plan(path, run_date, as_json)
    if loaded is None:
        return EXIT_INVALID
    return execute(loaded[0], loaded[1], run_date, as_json)[0]


def execute(
    campaign: Campaign, the_plan: Plan, run_date: date, as_json: bool
) -> tuple[int, str | None]:
    """Run the flow with a progress bar; print the final table (or one JSON document).

    Returns the exit code and the flow run id.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from prefect_haoee.flows import listening

    def finished(item: Any, record: Any, error: str | None) -> None:
        if bar is not None and task_id is not None:
            bar.advance(task_id)
            if error:
                errors.print(f"  [red]✗[/] {item.label}: {error}", highlight=False)

    bar = (
        None
        if as_json
        else Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=errors,
        )
    )
    task_id = bar.add_task(campaign.name, total=the_plan.total) if bar is not None else None
    with listening(finished):
        if bar is not None:
            bar.start()
        try:
            state = asyncio.run(_run_flow(campaign, run_date))
        finally:
            if bar is not None:
                bar.stop()
    run_id = str(state.state_details.flow_run_id) if state.state_details.flow_run_id else None
    result = state.result(raise_on_failure=False)
    from prefect_haoee.flows.result import CampaignResult

    if not isinstance(result, CampaignResult):
        message = (
            f"{type(result).__name__}: {result}"
            if isinstance(result, BaseException)
            else str(state.message)
        )
        if as_json:
            print_json({"ok": False, "exit_code": EXIT_FAILED, "error": message})
        else:
            errors.print(f"[bold red]campaign run failed:[/] {message}", highlight=False)
        return EXIT_FAILED, run_id
    code = EXIT_FAILED if result.failed else EXIT_OK
    if as_json:
        print_json({"ok": code == EXIT_OK, "exit_code": code, **result.model_dump(mode="json")})
    else:
        show_result(result)
        show_references(the_plan)
    return code, run_id


async def _run_flow(campaign: Campaign, run_date: date) -> Any:
    from prefect_haoee.flows import run_campaign

    return await run_campaign(campaign, run_date=run_date, return_state=True)
