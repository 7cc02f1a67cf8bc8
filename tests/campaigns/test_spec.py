"""The campaign models: defaults, value rules and cross-prompt rules (no files involved)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from prefect_haoee.campaigns import (
    BudgetSpec,
    Campaign,
    CsvPromptSource,
    OutputSpec,
    PromptSpec,
    ScheduleSpec,
)
from tests.campaigns.support import campaign_dict


def errors_of(exc: ValidationError) -> dict[str, str]:
    """``{"prompts.1.id": message}`` (union tags dropped)."""
    out = {}
    for error in exc.errors():
        loc = [str(p) for p in error["loc"] if p not in ("PromptSpec", "CsvPromptSource")]
        out[".".join(loc)] = error["msg"]
    return out


def invalid(changes: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as info:
        Campaign.model_validate(campaign_dict(changes))
    return errors_of(info.value)


def test_defaults() -> None:
    campaign = Campaign.model_validate(
        {
            "name": "c",
            "model": "jimeng_t2i_v30",
            "prompts": [{"id": "a", "prompt": "x"}],
            "output": {"bucket": "abc"},
        }
    )
    assert campaign.mode == "auto"
    assert campaign.variants == 1
    assert campaign.params == {}
    assert campaign.concurrency == 5
    assert campaign.qps == 10
    assert campaign.output.prefix == "campaigns/{name}/{date}"
    assert campaign.budget == BudgetSpec()
    assert campaign.prices is None
    assert campaign.seed_salt == ""
    assert campaign.schedule is None
    assert campaign.tags == []
    assert campaign.source == "<campaign>"


def test_prompt_entries_are_tagged_by_shape() -> None:
    campaign = Campaign.model_validate(campaign_dict({"prompts.2": {"from_csv": "p.csv"}}))
    assert isinstance(campaign.prompts[0], PromptSpec)
    assert isinstance(campaign.prompts[2], CsvPromptSource)
    assert len(campaign.prompt_specs()) == 2
    again = Campaign.model_validate(campaign.model_dump())
    assert again == campaign


def test_campaign_is_frozen() -> None:
    campaign = Campaign.model_validate(campaign_dict())
    with pytest.raises(ValidationError):
        campaign.name = "other"  # type: ignore[misc]


@pytest.mark.parametrize("name", ["a", "spring-launch", "x" * 63, "2025-q1"])
def test_good_names(name: str) -> None:
    assert Campaign.model_validate(campaign_dict({"name": name})).name == name


@pytest.mark.parametrize("name", ["", "Spring", "spring_launch", "x" * 64, "a b", "é"])
def test_bad_names(name: str) -> None:
    assert "1-63 characters" in invalid({"name": name})["name"]


@pytest.mark.parametrize("prompt_id", ["a", "Hero_Shot-2", "x" * 64])
def test_good_prompt_ids(prompt_id: str) -> None:
    assert PromptSpec(id=prompt_id, prompt="x").id == prompt_id


@pytest.mark.parametrize("prompt_id", ["", "a b", "a/b", "x" * 65, "é"])
def test_bad_prompt_ids(prompt_id: str) -> None:
    with pytest.raises(ValidationError, match="prompt id must be"):
        PromptSpec(id=prompt_id, prompt="x")


@pytest.mark.parametrize("bucket", ["abc", "marketing-assets", "my.bucket.1", "a" * 63])
def test_good_buckets(bucket: str) -> None:
    assert OutputSpec(bucket=bucket).bucket == bucket


@pytest.mark.parametrize(
    "bucket",
    [
        "ab",
        "a" * 64,
        "Marketing",
        "my_bucket",
        "-abc",
        "abc-",
        ".abc",
        "a..b",
        "a.-b",
        "192.168.1.1",
    ],
)
def test_bad_buckets(bucket: str) -> None:
    with pytest.raises(ValidationError, match="bucket"):
        OutputSpec(bucket=bucket)


@pytest.mark.parametrize(
    "prefix", ["campaigns/{name}/{date}", "{name}/{prompt_id}/v{variant}", "static/path"]
)
def test_good_prefixes(prefix: str) -> None:
    assert OutputSpec(bucket="abc", prefix=prefix).prefix == prefix


@pytest.mark.parametrize(
    ("prefix", "fragment"),
    [
        ("x/{campaign}", "unknown placeholder {campaign}"),
        ("x/{nmae}", "did you mean {name}?"),
        ("x/{variant:02d}", "takes no format spec"),
        ("x/{name!r}", "takes no format spec"),
        ("x/{name", "not a valid template"),
        ("x/}", "not a valid template"),
        ("/", "empty"),
    ],
)
def test_bad_prefixes(prefix: str, fragment: str) -> None:
    with pytest.raises(ValidationError, match="prefix") as info:
        OutputSpec(bucket="abc", prefix=prefix)
    assert fragment in str(info.value)


def test_prefix_rendering() -> None:
    output = OutputSpec(bucket="abc", prefix="c/{name}/{date}/{prompt_id}-{variant}/")
    assert output.render_prefix("n", date(2025, 1, 2), "p", 3) == "c/n/2025-01-02/p-3"
    assert output.per_item
    assert output.common_prefix("n", date(2025, 1, 2)) == "c/n/2025-01-02"
    assert not OutputSpec(bucket="abc").per_item


@pytest.mark.parametrize(
    "cron", ["0 7 * * *", "*/15 9-17 * * mon-fri", "0 0 1 jan *", "5,35 0-23/2 1-31 1-12 0-7"]
)
def test_good_crons(cron: str) -> None:
    assert ScheduleSpec(cron=cron, timezone="Europe/Berlin").cron == cron


@pytest.mark.parametrize(
    ("cron", "fragment"),
    [
        ("0 7 * *", "5 fields"),
        ("0 7 * * * *", "5 fields"),
        ("60 * * * *", "outside 0-59"),
        ("* 24 * * *", "outside 0-23"),
        ("0 0 0 * *", "outside 1-31"),
        ("0 0 * 13 *", "outside 1-12"),
        ("0 0 * * 8", "outside 0-7"),
        ("*/0 * * * *", "step of 0"),
        ("0 0 * * funday", "'funday' is not a value"),
        ("0 0 * jan-fri *", "'fri' is not a value"),
        ("0 0 ? * *", "not valid"),
    ],
)
def test_bad_crons(cron: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        ScheduleSpec(cron=cron)
    assert fragment in str(info.value)


def test_schedule_rules() -> None:
    assert ScheduleSpec(interval_seconds=3600).timezone == "UTC"
    with pytest.raises(ValidationError, match="did you mean 'Europe/Berlin'"):
        ScheduleSpec(cron="0 7 * * *", timezone="Europe/Berlyn")
    with pytest.raises(ValidationError, match="exactly one"):
        ScheduleSpec(cron="0 7 * * *", interval_seconds=60)
    with pytest.raises(ValidationError, match="exactly one"):
        ScheduleSpec()
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        ScheduleSpec(interval_seconds=0)


def test_seed_bounds() -> None:
    assert PromptSpec(id="a", prompt="x", seed=-1).seed == -1
    assert PromptSpec(id="a", prompt="x", seed=2**31 - 1).seed == 2**31 - 1
    for bad in (-2, 2**31):
        with pytest.raises(ValidationError):
            PromptSpec(id="a", prompt="x", seed=bad)


@pytest.mark.parametrize("key", ["seed", "req_key", "prompt", "image_urls", "custom_prompt"])
def test_reserved_params(key: str) -> None:
    assert "cannot be set in params" in invalid({f"params.{key}": 1})[f"params.{key}"]
    errors = invalid({f"prompts.0.params.{key}": 1})
    assert "cannot be set in params" in errors[f"prompts.0.params.{key}"]


def test_unknown_keys_are_errors_at_every_level() -> None:
    errors = invalid(
        {
            "x": 1,
            "output.x": 1,
            "budget.x": 1,
            "prompts.0.x": 1,
            "schedule": {"cron": "0 7 * * *", "x": 1},
        }
    )
    assert {"x", "output.x", "budget.x", "prompts.0.x", "schedule.x"} <= set(errors)
    assert all("Extra inputs" in errors[k] for k in ("x", "output.x", "prompts.0.x"))
    with pytest.raises(ValidationError):
        CsvPromptSource.model_validate({"from_csv": "a.csv", "x": 1})


def test_duplicate_ids_name_both_indices() -> None:
    errors = invalid({"prompts.2": {"id": "hero-shot", "prompt": "again"}})
    assert "prompts[0] and prompts[2]" in errors["prompts.2.id"]


def test_prompt_without_any_model() -> None:
    errors = invalid({"model": None, "prompts.0.model": None})
    assert "no model" in errors["prompts.0.model"]
    ok = campaign_dict({"model": None, "prompts.0.model": "jimeng_t2i_v30", "params": {}})
    assert Campaign.model_validate(ok).model is None


def test_modes() -> None:
    assert (
        "does not support mode 'sync'"
        in invalid({"model": "jimeng_t2i_v30", "mode": "sync"})["mode"]
    )
    assert "does not support mode 'async'" in invalid({"prompts.1.mode": "async"})["prompts.1.mode"]
    assert invalid({"mode": "fast"})["mode"].startswith("Input should be 'auto', 'sync'")
    both = Campaign.model_validate(campaign_dict({"mode": "async", "prompts.1.mode": "sync"}))
    assert both.mode_for(both.prompt_specs()[0]) == "async"
    assert both.mode_for(both.prompt_specs()[1]) == "sync"


def test_prices_and_budget_rules() -> None:
    assert "unknown req_key" in invalid({"prices": {"nope": 1}})["prices.nope"]
    assert (
        "greater than or equal to 0"
        in invalid({"prices": {"jimeng_t2i_v30": -1}})["prices.jimeng_t2i_v30"]
    )
    assert "max_images" in ",".join(invalid({"budget.max_images": 0}))
    campaign = Campaign.model_validate(campaign_dict({"prices": {"jimeng_t2i_v30": 0}}))
    assert campaign.prices == {"jimeng_t2i_v30": 0.0}


def test_seed_salt_placeholders() -> None:
    assert Campaign.model_validate(campaign_dict({"seed_salt": "v2-{date}"})).seed_salt
    assert "unknown placeholder {prompt_id}" in invalid({"seed_salt": "{prompt_id}"})["seed_salt"]


def test_several_field_problems_at_once() -> None:
    errors = invalid(
        {"name": "Bad", "variants": 0, "concurrency": 99, "qps": -1, "output.bucket": "B"}
    )
    assert {"name", "variants", "concurrency", "qps", "output.bucket"} <= set(errors)
