"""Terminal output of the CLI: problems, plans, results (rich), and JSON documents."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from prefect_haoee.campaigns import CURRENCY, CampaignError, Plan
from prefect_haoee.flows.result import CampaignResult, ItemSummary

console = Console()
errors = Console(stderr=True)


def print_json(document: Any) -> None:
    """One machine-readable JSON document on stdout (nothing else goes there)."""
    print(json.dumps(document, indent=2, default=str, ensure_ascii=False))


def show_problems(error: CampaignError, as_json: bool) -> None:
    if as_json:
        print_json({"ok": False, "exit_code": 2, "problems": error.as_dicts()})
        return
    errors.print(f"[bold red]{len(error.problems)} problem(s); nothing was called:[/]")
    for problem in error.problems:
        errors.print(f"  [red]✗[/] {escape(str(problem))}", highlight=False, soft_wrap=True)


def plan_table(plan: Plan) -> Table:
    table = Table(title=f"{plan.campaign.name} on {plan.run_date}", show_lines=False)
    for column in ("prompt", "variant", "req_key", "mode", "seed", "stored", "cost"):
        table.add_column(column)
    for item in plan.items:
        stored = plan.is_stored(item)
        table.add_row(
            item.prompt_id,
            str(item.variant),
            item.req_key,
            item.mode,
            str(item.seed),
            "yes" if stored else "no",
            "0" if stored else f"{item.cost:.2f}",
        )
    return table


def show_plan(plan: Plan) -> None:
    console.print(plan_table(plan))
    console.print(
        f"{plan.total} image(s): {plan.total - plan.paid_calls} already in "
        f"s3://{plan.campaign.output.bucket}, {plan.paid_calls} paid call(s), "
        f"cost {plan.cost:.2f} {CURRENCY} (prices are estimates)."
    )


def result_table(result: CampaignResult) -> Table:
    table = Table(title=f"{result.campaign} on {result.run_date}")
    for column in ("prompt", "v", "req_key", "seed", "status", "object", "size", "s", "paid"):
        table.add_column(column, overflow="fold")
    for row in result.items:
        done = row.status == "done"
        table.add_row(
            row.prompt_id,
            str(row.variant),
            row.req_key,
            f"{row.seed} (reseeded)" if row.reseeds else str(row.seed),
            "[green]done[/]" if done else "[red]failed[/]",
            _short_key(row.s3_key) if done else row.error,
            row.size,
            f"{row.seconds:.2f}" if done else "",
            _paid_cell(row) if done else "",
        )
    return table


def _paid_cell(row: ItemSummary) -> str:
    paid = "no (cached)" if row.cache_hit else f"{row.cost:.2f}"
    # Another run paid for the same image too (two runs without a shared lock).
    return f"{paid} PAID TWICE" if row.paid_twice_with else paid


def show_result(result: CampaignResult) -> None:
    console.print(result_table(result))
    console.print(
        f"{result.done}/{result.total} image(s) in s3://{result.bucket}/{result.prefix} "
        f"({result.stored_before} already stored, {result.paid_calls} paid call(s), "
        f"{result.cost:.2f} {CURRENCY}) in {result.seconds:.1f}s; "
        f"manifest s3://{result.bucket}/{result.manifest_key}"
    )
    if result.paid_twice:
        errors.print(
            f"[bold yellow]{result.paid_twice} image(s) paid twice[/]: another run of this "
            "campaign paid for them too (no shared lock); see paid_twice_with in the manifest"
        )
    if result.failed:
        errors.print(f"[bold red]{result.failed} item(s) failed[/] (the others are kept)")


def _short_key(key: str) -> str:
    """``…/9be89f74ea37.png``: the folder is printed once under the table."""
    name = key.rsplit("/", 1)[-1]
    stem, dot, ext = name.partition(".")
    return f"{stem[:12]}…{dot}{ext}" if len(stem) > 12 else name
