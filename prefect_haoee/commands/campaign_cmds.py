"""``haoee validate | plan | run``: check, price and run a campaign file.

Exit codes: 0 all done, 1 some items failed (the others kept) or the run failed, 2 invalid
input (nothing was called: bad file, over budget, missing bucket, no API key), 3 Prefect,
S3 or the gateway could not be reached (nothing was paid; details in the debug log).

``validate`` and ``plan`` load no Prefect module (``plan`` reads S3 with boto3); only
``run`` loads the flow stack.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import Any

from prefect_haoee.campaigns import (
    BudgetExceededError,
    Campaign,
    CampaignError,
    Plan,
    Problem,
    load_campaign,
)
from prefect_haoee.campaigns.budget import first_run_problems
from prefect_haoee.commands import logs
from prefect_haoee.commands.render import (
    console,
    errors,
    line,
    one_line,
    print_json,
    say_error,
    show_plan,
    show_problems,
    show_references,
    show_result,
)

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_UNREACHABLE = 0, 1, 2, 3


class Unreachable(Exception):
    """A service (Prefect, S3, the gateway) did not answer: exit 3, nothing paid."""

    def __init__(self, message: str, hint: str = "") -> None:
        self.hint = hint
        super().__init__(message)


def load_or_report(path: Path, as_json: bool, check_objects: bool = True) -> Campaign | None:
    try:
        # The loader checks every request (without keeping the items): no network.
        campaign = load_campaign(path, check_objects=check_objects)
    except CampaignError as exc:
        show_problems(exc, as_json)
        return None
    return campaign


def validate(path: Path, as_json: bool = False, check_objects: bool = False) -> int:
    campaign = load_or_report(path, as_json, check_objects=check_objects)
    if campaign is None:
        return EXIT_INVALID
    over = first_run_problems(campaign)  # plan's budget rules, as if nothing were stored
    if over:
        show_problems(BudgetExceededError(over), as_json)
        return EXIT_INVALID
    if as_json:
        print_json({"ok": True, "exit_code": EXIT_OK, "file": str(path), "campaign": campaign.name})
    else:
        console.print(line(("✓", "green"), f" {path}: campaign {campaign.name!r} is valid"))
    return EXIT_OK


def make_checked_plan(campaign: Campaign, run_date: date) -> Plan:
    """Plan against S3 (what is stored) and check the budget; CampaignError if invalid,
    Unreachable if S3 does not answer."""
    from prefect_haoee.campaigns import make_plan
    from prefect_haoee.commands.stored import BucketUnusable, S3Unreachable, stored_stems

    prefix = campaign.output.common_prefix(campaign.name, run_date)
    try:
        if campaign.output.bucket_block or os.environ.get("HAOEE_BUCKET_BLOCK"):
            stems = _stems_of_bucket_block(campaign, prefix)
        else:
            stems = stored_stems(campaign.output.bucket, prefix)
    except BucketUnusable as exc:
        problem = f"bucket {campaign.output.bucket!r} {exc}"
        raise CampaignError([Problem(campaign.source, "output.bucket", problem)]) from None
    except S3Unreachable as exc:
        hint = "check AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL and the network"
        raise Unreachable(str(exc), hint) from exc
    plan = make_plan(campaign, run_date, stems)
    plan.check_budget()
    return plan


def _stems_of_bucket_block(campaign: Campaign, prefix: str) -> set[str]:
    """A named S3Bucket block is read through Prefect (its own credentials, endpoint and
    ``bucket_folder``): only then does ``plan`` load Prefect."""
    from prefect_haoee.commands.stored import BucketUnusable
    from prefect_haoee.flows.destination import campaign_bucket
    from prefect_haoee.tasks.storage import list_stems

    try:
        bucket = campaign_bucket(campaign)
    except ValueError as exc:
        raise BucketUnusable(str(exc)) from None
    return list_stems(bucket, prefix)


def missing_key_problem(campaign: Campaign) -> CampaignError | None:
    """No HAOEE_API_KEY: found once, before the flow starts (not per item)."""
    if os.environ.get("HAOEE_API_KEY", "").strip():
        return None
    if campaign.credentials_block or os.environ.get("HAOEE_CREDENTIALS_BLOCK"):
        return None  # the block holds the key (a missing block is reported by the flow)
    message = "not set: export the gateway's key (or pass a HaoeeCredentials block)"
    return CampaignError([Problem("environment", "HAOEE_API_KEY", message)])


def ledger_problem(as_json: bool) -> int | None:
    """``HAOEE_LOCK_*`` checked before the flow: a bad value is one located problem (exit
    2), a Redis ledger that does not answer is unreachable (exit 3); None when usable."""
    from prefect_haoee.tasks.errors import LockBackendError, LockConfigurationError
    from prefect_haoee.tasks.ledger import check_ledger

    logs.route_logs(errors)  # that import configured Prefect's logging: keep it off the terminal
    try:
        check_ledger()
    except LockConfigurationError as exc:
        name, _, message = exc.message.partition(": ")
        show_problems(CampaignError([Problem("environment", name, message)]), as_json)
        return EXIT_INVALID
    except LockBackendError as exc:
        return report_unreachable(Unreachable(exc.message), as_json, "check HAOEE_LOCK_URL")
    return None


def report_unreachable(exc: BaseException, as_json: bool, hint: str = "") -> int:
    message = str(exc)
    hint = hint or getattr(exc, "hint", "")
    logs.log_failure(message, exc, errors)
    if as_json:
        print_json({"ok": False, "exit_code": EXIT_UNREACHABLE, "error": message, "hint": hint})
    else:
        say_error((message, "bold red"))
        if hint:
            say_error(f"  {hint}; {logs.where_logged()}")
    return EXIT_UNREACHABLE


def load_and_plan(
    path: Path, run_date: date, as_json: bool, *, needs_key: bool = False
) -> tuple[Campaign, Plan] | int:
    """The campaign and its checked plan, or the exit code after reporting why. With
    ``needs_key`` (``run``) a missing gateway key is reported with the plan's problems
    (a bucket without credentials, a budget), not one run later."""
    campaign = load_or_report(path, as_json)
    if campaign is None:
        return EXIT_INVALID
    try:
        return campaign, make_checked_plan(campaign, run_date)
    except CampaignError as exc:
        missing = missing_key_problem(campaign) if needs_key else None
        problems = [*exc.problems, *(missing.problems if missing else [])]
        show_problems(CampaignError(problems), as_json)
        return EXIT_INVALID
    except Unreachable as exc:
        return report_unreachable(exc, as_json)


def plan(path: Path, run_date: date, as_json: bool) -> int:
    loaded = load_and_plan(path, run_date, as_json)
    if isinstance(loaded, int):
        return loaded
    campaign, the_plan = loaded
    missing = missing_key_problem(campaign) if the_plan.paid_calls else None
    warnings = [f"{p.path} {p.message}" for p in missing.problems] if missing else []
    if as_json:
        print_json({"ok": True, **the_plan.summary(), "warnings": warnings})
    else:
        show_plan(the_plan)
        for warning in warnings:
            say_error(("warning: ", "yellow"), warning, " (`haoee run` needs it)")
    return EXIT_OK


def run(path: Path, run_date: date, as_json: bool) -> int:
    loaded = load_and_plan(path, run_date, as_json, needs_key=True)
    if isinstance(loaded, int):
        return loaded
    campaign, the_plan = loaded
    if the_plan.paid_calls:
        missing = missing_key_problem(campaign)
        if missing is not None:
            show_problems(missing, as_json)
            return EXIT_INVALID
        from prefect_haoee.commands.reach import gateway_problem

        reason = gateway_problem()
        if reason is not None:
            return report_unreachable(
                Unreachable(reason), as_json, "check HAOEE_BASE_URL and the network"
            )
        ledger = ledger_problem(as_json)
        if ledger is not None:
            return ledger
    with ExitStack() as stack:
        from prefect_haoee.commands.prefect_server import PrefectUnreachable, connect

        try:
            connect(stack, _say(as_json), log=logs.server_log_path())
        except PrefectUnreachable as exc:
            return report_unreachable(exc, as_json)
        return execute(campaign, the_plan, run_date, as_json)[0]


def _say(as_json: bool) -> Any:
    def say(text: str) -> None:
        if not as_json:
            errors.print(text, soft_wrap=True)

    return say


def execute(
    campaign: Campaign, the_plan: Plan, run_date: date, as_json: bool
) -> tuple[int, str | None]:
    """Run the flow with a progress bar; print the final table (or one JSON document).

    Returns the exit code and the flow run id. A failure to reach Prefect (or any crash
    of the flow machinery) is one line on the terminal, its traceback in the debug log.
    """
    from prefect_haoee.commands.prefect_server import unreachable_cause
    from prefect_haoee.commands.progress import run_with_progress

    try:
        state = run_with_progress(campaign, the_plan, run_date, show=not as_json)
    except Exception as exc:  # noqa: BLE001 - one clear line, the traceback to the log
        cause = unreachable_cause(exc)
        if cause is not None:
            from prefect.settings import PREFECT_API_URL

            message = f"lost the Prefect API at {PREFECT_API_URL.value()}: {cause}"
            return report_unreachable(Unreachable(message), as_json), None
        full = f"campaign run crashed: {type(exc).__name__}: {exc}"
        logs.log_failure(full, exc, errors)
        message = one_line(full)
        if as_json:
            print_json({"ok": False, "exit_code": EXIT_FAILED, "error": message})
        else:
            say_error((message, "bold red"))
            say_error(f"  {logs.where_logged()}")
        return EXIT_FAILED, None
    run_id = str(state.state_details.flow_run_id) if state.state_details.flow_run_id else None
    result = state.result(raise_on_failure=False)
    from prefect_haoee.flows.result import CampaignResult

    if not isinstance(result, CampaignResult):
        message = (
            f"{type(result).__name__}: {result}"
            if isinstance(result, BaseException)
            else str(state.message)
        )
        if isinstance(result, BaseException):
            logs.log_failure(message, result, errors)
        message = one_line(message)
        if as_json:
            print_json({"ok": False, "exit_code": EXIT_FAILED, "error": message})
        else:
            say_error(("campaign run failed: ", "bold red"), message)
            say_error(f"  {logs.where_logged()}")
        return EXIT_FAILED, run_id
    code = EXIT_FAILED if result.failed else EXIT_OK
    if as_json:
        print_json({"ok": code == EXIT_OK, "exit_code": code, **result.model_dump(mode="json")})
    else:
        show_result(result)
        show_references(the_plan)
    return code, run_id
