"""Terminal output of the CLI: problems, plans, results (rich), and JSON documents.

Text from outside (gateway messages, prompts, file names, S3 keys) is printed as text:
both consoles have console markup and emoji codes off (``[/]`` and ``root:x:0:0`` stay as
they are), and styles are given as ``Text`` spans, never as markup in a string.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from prefect_haoee.campaigns import CURRENCY, CampaignError, Plan

if TYPE_CHECKING:  # the flow stack (Prefect) loads only for `run`
    from prefect_haoee.flows.result import CampaignResult, ItemSummary


class _Console(Console):
    """A console that leaves a closed pipe to the command (``haoee models | head -1``):
    rich would exit 1 on its own; the command exits quietly, as every command does."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError(32, "Broken pipe")


console = _Console(markup=False, emoji=False, highlight=False)
errors = _Console(stderr=True, markup=False, emoji=False, highlight=False)


def line(*parts: str | tuple[str, str]) -> Text:
    """A line of plain text parts and ``(text, style)`` parts, none read as markup."""
    return Text.assemble(*parts)


MESSAGE_MAX = 400
"""The longest error message a command prints (the whole text goes to the debug log)."""


def one_line(message: str, limit: int = MESSAGE_MAX) -> str:
    """``message`` on one line and at most ``limit`` characters: an error that quotes a
    request or an answer (a 422 body of a megabyte) never floods the terminal."""
    flat = " ".join(message.split())
    if len(flat) <= limit:
        return flat
    tail = f"... ({len(flat):,} characters in all: the debug log has them)"
    return flat[: max(limit - len(tail), 0)] + tail


def say_error(*parts: str | tuple[str, str]) -> None:
    errors.print(line(*parts), soft_wrap=True)


def print_json(document: Any) -> None:
    """One machine-readable JSON document on stdout (nothing else goes there)."""
    print(json.dumps(document, indent=2, default=str, ensure_ascii=False))


def show_problems(error: CampaignError, as_json: bool) -> None:
    if as_json:
        print_json({"ok": False, "exit_code": 2, "problems": error.as_dicts()})
        return
    say_error((f"{len(error.problems)} problem(s); nothing was called:", "bold red"))
    for problem in error.problems:
        say_error("  ", ("✗", "red"), " ", str(problem))


WRAPPED = {"prompt": 9, "object": 14}
"""The columns whose text may wrap (ids, errors), with the width they need at least. The
others (model names, seeds, sizes) stay on one line, so a model name is never broken
mid-word; on a terminal too narrow for all of them, :func:`fitted` leaves out the least
useful columns first instead of squeezing the wrapped ones to nothing."""
DROPPED_FIRST = ("s", "size", "mode", "paid", "cost", "stored", "seed", "v", "variant")


def fitted(names: tuple[str, ...], rows: list[tuple[str, ...]], width: int) -> tuple[str, ...]:
    """``names`` less the columns (in ``DROPPED_FIRST`` order) a ``width``-wide table of
    ``rows`` has no room for."""
    widest = {
        name: max([len(name), *(len(row[i]) for row in rows)]) for i, name in enumerate(names)
    }
    kept = list(names)

    def needed() -> int:
        cells = sum(min(widest[n], WRAPPED[n]) if n in WRAPPED else widest[n] for n in kept)
        return cells + 3 * len(kept) + 1  # a border and two spaces per column

    for name in DROPPED_FIRST:
        if needed() <= width:
            break
        if name in kept:
            kept.remove(name)
    return tuple(kept)


def _table(
    title: str, names: tuple[str, ...], rows: list[tuple[Text | str, ...]], width: int | None
) -> Table:
    plain = [tuple(str(cell) for cell in row) for row in rows]
    kept = fitted(names, plain, width or console.width)
    table = Table(title=Text(title), show_lines=False)
    for name in kept:
        if name in WRAPPED:
            table.add_column(name, overflow="fold", min_width=WRAPPED[name])
        else:
            table.add_column(name, no_wrap=True, overflow="ellipsis")
    where = [names.index(name) for name in kept]
    for row in rows:
        table.add_row(*(row[i] for i in where))
    return table


def plan_table(plan: Plan, width: int | None = None) -> Table:
    """The plan, one row per item, fitted to ``width`` (default: the terminal's)."""
    rows: list[tuple[Text | str, ...]] = []
    for item in plan.items:
        stored = plan.is_stored(item)
        rows.append(
            (
                Text(item.prompt_id),
                str(item.variant),
                item.req_key,
                item.mode,
                str(item.seed),
                "yes" if stored else "no",
                "0" if stored else f"{item.cost:.2f}",
            )
        )
    names = ("prompt", "variant", "req_key", "mode", "seed", "stored", "cost")
    return _table(f"{plan.campaign.name} on {plan.run_date}", names, rows, width)


def show_references(plan: Plan) -> None:
    """One line per reference image of the plan: source, bytes, sha256 (text, not markup)."""
    for ref in plan.references:
        size = f"{ref['bytes']} bytes" if ref.get("bytes") is not None else "not read"
        digest = f"sha256 {ref['sha256']}" if ref.get("sha256") else "fetched by the gateway"
        line = f"reference {ref['source']} ({ref['kind']}, via {ref['via']}): {size}, {digest}"
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def show_plan(plan: Plan) -> None:
    console.print(plan_table(plan))
    show_references(plan)
    console.print(
        f"{plan.total} image(s): {plan.total - plan.paid_calls} already in "
        f"s3://{plan.campaign.output.bucket}, {plan.paid_calls} paid call(s), "
        f"cost {plan.cost:.2f} {CURRENCY} (prices are estimates)."
    )


def result_table(result: CampaignResult, width: int | None = None) -> Table:
    """The run's items, fitted to ``width`` (default: the terminal's)."""
    rows: list[tuple[Text | str, ...]] = []
    for row in result.items:
        done = row.status == "done"
        rows.append(
            (
                Text(row.prompt_id),
                str(row.variant),
                row.req_key,
                f"{row.seed} (reseeded)" if row.reseeds else str(row.seed),
                Text("done", style="green") if done else Text("failed", style="red"),
                Text(_short_key(row.s3_key) if done else row.error),
                row.size,
                f"{row.seconds:.2f}" if done else "",
                _paid_cell(row) if done else "",
            )
        )
    names = ("prompt", "v", "req_key", "seed", "status", "object", "size", "s", "paid")
    return _table(f"{result.campaign} on {result.run_date}", names, rows, width)


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
        say_error(
            (f"{result.paid_twice} image(s) paid twice", "bold yellow"),
            ": another run of this campaign paid for them too (no shared lock); "
            "see paid_twice_with in the manifest",
        )
    if result.failed:
        say_error((f"{result.failed} item(s) failed", "bold red"), " (the others are kept)")


def _short_key(key: str) -> str:
    """``…/9be89f74ea37.png``: the folder is printed once under the table."""
    name = key.rsplit("/", 1)[-1]
    stem, dot, ext = name.partition(".")
    return f"{stem[:12]}…{dot}{ext}" if len(stem) > 12 else name
