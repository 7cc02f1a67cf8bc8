"""What ``haoee run`` prints at the end: the table of items, read at a terminal's width."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from prefect_haoee.commands.render import plan_table, result_table
from prefect_haoee.flows.result import CampaignResult, ItemSummary

MODELS = ("high_aes_general_v20_L", "high_aes_ip_v20", "jimeng_high_aes_general_v21_L")


def summary(prompt_id: str, variant: int, req_key: str) -> ItemSummary:
    return ItemSummary(
        prompt_id=prompt_id,
        variant=variant,
        req_key=req_key,
        seed=1234567890 + variant,
        status="done",
        s3_key=f"campaigns/spring-launch/2027-03-01/{'9be89f74ea37' * 5}.png",
        size="512x512",
        bytes=123456,
        seconds=12.34,
        cache_hit=False,
        cost=0.2,
        reseeds=1 if variant == 1 else 0,
        error="",
    )


def result(rows: list[ItemSummary]) -> CampaignResult:
    return CampaignResult(
        campaign="spring-launch",
        run_date="2027-03-01",
        bucket="marketing-assets",
        prefix="campaigns/spring-launch/2027-03-01",
        manifest_key="campaigns/spring-launch/2027-03-01/manifest.json",
        total=len(rows),
        done=len(rows),
        failed=0,
        stored_before=0,
        paid_calls=len(rows),
        cost=0.2 * len(rows),
        seconds=30.0,
        records=[],
        failures=[],
        items=rows,
    )


def printed(table: object, width: int) -> str:
    console = Console(width=width, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(table)
    return console.export_text()


def test_model_names_and_seeds_are_never_broken_at_120_columns() -> None:
    rows = [summary(f"hero-shot-{n}", v, MODELS[n]) for n in range(3) for v in range(2)]
    text = printed(result_table(result(rows), 120), 120)
    for model in MODELS:
        assert model in text, text
    assert "1234567891 (reseeded)" in text, text
    assert max(len(line) for line in text.splitlines()) <= 120


def test_plan_table_keeps_model_names_whole() -> None:
    from datetime import date

    from prefect_haoee.campaigns import make_plan, parse_campaign

    doc = {
        "name": "wide",
        "model": MODELS[2],
        "prompts": [{"id": "a-rather-long-prompt-identifier", "prompt": "x"}],
        "output": {"bucket": "marketing-assets"},
    }
    plan = make_plan(parse_campaign(doc, "wide.yaml", Path.cwd()), date(2027, 3, 1))
    text = printed(plan_table(plan, 80), 80)
    assert MODELS[2] in text, text


def test_the_demos_gateway_line_agrees_in_number() -> None:
    from prefect_haoee.commands.demo import counted, were

    assert f"1 {were(1, 'answered 429 and', 'retried')}" == "1 answered 429 and was retried"
    assert f"2 {were(2, 'answered 429 and', 'retried')}" == "2 answered 429 and were retried"
    assert (counted(1, "call"), counted(0, "call"), counted(7, "call")) == (
        "1 call",
        "0 calls",
        "7 calls",
    )


def test_an_80_column_terminal_keeps_every_column_readable() -> None:
    rows = [summary(f"hero-shot-{n}", v, MODELS[n]) for n in range(3) for v in range(2)]
    text = printed(result_table(result(rows), 80), 80)
    assert "hero-shot" in text and "9be89f74" in text, text  # prompt and object keep room
    assert "high_aes_ip_v20" in text, text
