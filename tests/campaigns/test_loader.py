"""Loading campaign files: the examples load; every broken file names file, path and rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from prefect_haoee.campaigns import (
    DEMO_CAMPAIGN,
    BudgetExceededError,
    Campaign,
    CampaignError,
    PromptSpec,
    load_campaign,
    load_demo_campaign,
    parse_campaign,
)
from tests.campaigns.support import BASE, DELETE, campaign_dict, write_campaign

ROOT = Path(__file__).resolve().parents[2]
SPRING = ROOT / "deployments" / "campaigns" / "spring-launch.yaml"

CSV_OK = "id,prompt,model\nrow-a,a trail shoe on a rock,\nrow-b,a sneaker at night,jimeng_t2i_v30\n"
WITH_CSV = {"prompts.2": {"from_csv": "prompts.csv"}}


def test_spring_launch_example_loads() -> None:
    campaign = load_campaign(SPRING)
    assert campaign.name == "spring-launch"
    assert campaign.output.bucket == "marketing-assets"
    assert campaign.schedule is not None
    assert campaign.schedule.cron == "0 7 * * *"
    assert campaign.schedule.timezone == "Europe/Berlin"
    ids = [p.id for p in campaign.prompt_specs()]
    assert ids[:2] == ["hero-shot", "mascot-hiking"]
    assert len(ids) > 2  # the CSV rows were resolved
    assert all(isinstance(p, PromptSpec) for p in campaign.prompts)
    keep = campaign.prompt_specs()[1]
    assert keep.model == "high_aes_ip_v20"
    assert keep.images == ["brand/mascot.png"] and not keep.image_urls


def test_demo_campaign_loads() -> None:
    campaign = load_demo_campaign()
    assert DEMO_CAMPAIGN.is_file()
    assert campaign.name == "haoee-demo"
    assert campaign.output.bucket == "haoee-demo"
    assert campaign.budget.max_images == 20
    specs = campaign.prompt_specs()
    assert len(specs) == 4  # the fourth keeps a character from a shipped reference image
    assert specs[3].images == ["demo-mascot.png"]
    assert campaign.variants == 2
    modes = {campaign.mode_for(p) for p in specs}
    assert modes == {"sync", "async"}


def test_csv_rows_become_prompts(tmp_path: Path) -> None:
    (tmp_path / "prompts.csv").write_text(CSV_OK, encoding="utf-8")
    campaign = load_campaign(write_campaign(tmp_path, campaign_dict(WITH_CSV)))
    specs = campaign.prompt_specs()
    assert [p.id for p in specs] == ["hero-shot", "keep-face", "row-a", "row-b"]
    assert specs[2].model is None
    assert specs[3].model == "jimeng_t2i_v30"
    assert campaign.source == str(tmp_path / "c.yaml")


def test_parse_campaign_from_dict(tmp_path: Path) -> None:
    campaign = parse_campaign(campaign_dict(), "inline.yaml", tmp_path)
    assert isinstance(campaign, Campaign)
    assert campaign.source == "inline.yaml"


# (case id, YAML changes or raw text, CSV text or None, which file, exact path, fragment)
BROKEN: list[tuple[str, Any, str | None, str, str, str]] = [
    ("unknown top-level key", {"varients": 3}, None, "yaml", "varients", "did you mean 'variants'"),
    (
        "unknown key in prompt",
        {"prompts.1.negative": "x"},
        None,
        "yaml",
        "prompts[1].negative",
        "unknown key 'negative'",
    ),
    (
        "model parameter outside params",
        {"prompts.0.negative_prompt": "x"},
        None,
        "yaml",
        "prompts[0].negative_prompt",
        "model parameters go under 'params'",
    ),
    (
        "model parameter at top level",
        {"width": 512},
        None,
        "yaml",
        "width",
        "model parameters go under 'params'",
    ),
    (
        "unknown key in output",
        {"output.region": "eu"},
        None,
        "yaml",
        "output.region",
        "unknown key 'region'",
    ),
    ("bad name", {"name": "Spring Launch"}, None, "yaml", "name", "1-63 characters"),
    (
        "bad width in campaign params",
        {"params.width": 5000},
        None,
        "yaml",
        "params.width",
        "less than or equal to 768",
    ),
    (
        "bad width in prompt params",
        {"prompts.1.params.width": 100},
        None,
        "yaml",
        "prompts[1].params.width",
        "greater than or equal to 256",
    ),
    (
        "duplicate id",
        {"prompts.1.id": "hero-shot"},
        None,
        "yaml",
        "prompts[1].id",
        "prompts[0] and prompts[1]",
    ),
    (
        "missing bucket",
        {"output.bucket": DELETE, "output.prefix": "x/{name}"},
        None,
        "yaml",
        "output.bucket",
        "required key 'bucket' is missing",
    ),
    (
        "bad bucket name",
        {"output.bucket": "Marketing_Assets"},
        None,
        "yaml",
        "output.bucket",
        "S3 bucket names",
    ),
    (
        "unknown req_key",
        {"model": "high_aes_general_v20L"},
        None,
        "yaml",
        "model",
        "did you mean 'high_aes_general_v20_L'",
    ),
    (
        "unknown req_key in prompt",
        {"prompts.1.model": "jimeng_t2i"},
        None,
        "yaml",
        "prompts[1].model",
        "unknown req_key or model 'jimeng_t2i'",
    ),
    (
        "unsupported campaign mode",
        {"model": "jimeng_t2i_v30", "mode": "sync"},
        None,
        "yaml",
        "mode",
        "does not support mode 'sync'",
    ),
    (
        "unsupported prompt mode",
        {"prompts.1.mode": "async"},
        None,
        "yaml",
        "prompts[1].mode",
        "high_aes_ip_v20 does not support mode 'async'",
    ),
    (
        "prompt model unsupported in campaign mode",
        {"mode": "sync", "prompts.0.model": "jimeng_t2i_v31"},
        None,
        "yaml",
        "prompts[0].model",
        "does not support mode 'sync'",
    ),
    ("variants 0", {"variants": 0}, None, "yaml", "variants", "greater than or equal to 1"),
    (
        "prompt variants 0",
        {"prompts.0.variants": 0},
        None,
        "yaml",
        "prompts[0].variants",
        "greater than or equal to 1",
    ),
    (
        "bad placeholder in prefix",
        {"output.prefix": "x/{campaign}/{date}"},
        None,
        "yaml",
        "output.prefix",
        "unknown placeholder {campaign}",
    ),
    (
        "missing prompts",
        {"prompts": DELETE},
        None,
        "yaml",
        "prompts",
        "required key 'prompts' is missing",
    ),
    ("no prompts", {"prompts": []}, None, "yaml", "prompts", "at least 1 item"),
    (
        "empty prompt",
        {"prompts.0.prompt": "  "},
        None,
        "yaml",
        "prompts[0].prompt",
        "prompt text is empty",
    ),
    (
        "two images for high_aes_ip_v20",
        {"prompts.1.image_urls": ["https://e.com/a.jpg", "https://e.com/b.jpg"]},
        None,
        "yaml",
        "prompts[1].image_urls",
        "exactly 1 input image",
    ),
    (
        "no image for high_aes_ip_v20",
        {"prompts.1.image_urls": DELETE},
        None,
        "yaml",
        "prompts[1].image_urls",
        "got 0",
    ),
    (
        "data: prefix base64",
        {
            "prompts.1.image_urls": DELETE,
            "prompts.1.binary_data_base64": ["data:image/png;base64,AAAA"],
        },
        None,
        "yaml",
        "prompts[1].binary_data_base64",
        "'data:' prefix",
    ),
    (
        "seed below -1",
        {"prompts.0.seed": -2},
        None,
        "yaml",
        "prompts[0].seed",
        "greater than or equal to -1",
    ),
    ("seed in params", {"params.seed": 7}, None, "yaml", "params.seed", "cannot be set in params"),
    (
        "unknown model parameter",
        {"prompts.0.params": {"stepz": 3}},
        None,
        "yaml",
        "prompts[0].params.stepz",
        "unknown parameter 'stepz'",
    ),
    ("bad cron", {"schedule": {"cron": "0 7 * *"}}, None, "yaml", "schedule.cron", "5 fields"),
    (
        "cron out of range",
        {"schedule": {"cron": "0 25 * * *"}},
        None,
        "yaml",
        "schedule.cron",
        "outside 0-23",
    ),
    (
        "bad timezone",
        {"schedule": {"cron": "0 7 * * *", "timezone": "Europe/Berlyn"}},
        None,
        "yaml",
        "schedule.timezone",
        "did you mean 'Europe/Berlin'",
    ),
    (
        "cron and interval",
        {"schedule": {"cron": "0 7 * * *", "interval_seconds": 3600}},
        None,
        "yaml",
        "schedule",
        "exactly one of 'cron' or 'interval_seconds'",
    ),
    (
        "neither cron nor interval",
        {"schedule": {"timezone": "UTC"}},
        None,
        "yaml",
        "schedule",
        "exactly one",
    ),
    (
        "concurrency 0",
        {"concurrency": 0},
        None,
        "yaml",
        "concurrency",
        "greater than or equal to 1",
    ),
    (
        "concurrency 65",
        {"concurrency": 65},
        None,
        "yaml",
        "concurrency",
        "less than or equal to 64",
    ),
    ("qps 0", {"qps": 0}, None, "yaml", "qps", "greater than 0"),
    (
        "negative max_cost",
        {"budget.max_cost": -1},
        None,
        "yaml",
        "budget.max_cost",
        "greater than or equal to 0",
    ),
    (
        "unknown price key",
        {"prices": {"jimeng_t2i_v3": 0.1}},
        None,
        "yaml",
        "prices.jimeng_t2i_v3",
        "'jimeng_t2i_v30'",
    ),
    (
        "salt placeholder",
        {"seed_salt": "{name}-{date}"},
        None,
        "yaml",
        "seed_salt",
        "unknown placeholder {name}",
    ),
    (
        "same request twice",
        {
            "prompts.1": {"id": "copy", "prompt": "a red running shoe on wet asphalt", "seed": 5},
            "prompts.0.seed": 6,
        },
        None,
        "yaml",
        "prompts[1].seed",
        "same request as variant 0 of 'hero-shot'",
    ),
    (
        "no seed parameter but variants",
        {"prompts.1.model": "img2img_stable_accelerated_maintain_id_usage", "prompts.1.params": {}},
        None,
        "yaml",
        "prompts[1].variants",
        "has no seed parameter",
    ),
    (
        "YAML syntax error",
        "name: x\nprompts: [a, b\noutput: {bucket: abc}\n",
        None,
        "yaml",
        "line 3, column 7",
        "YAML syntax error",
    ),
    (
        "duplicate YAML key",
        "name: a\nname: b\n",
        None,
        "yaml",
        "line 2, column 1",
        "duplicate key 'name'",
    ),
    ("CSV missing", WITH_CSV, None, "yaml", "prompts[2].from_csv", "CSV file not found"),
    (
        "CSV extra column",
        WITH_CSV,
        "id,prompt,tags\na,b,c\n",
        "csv",
        "row 1, column tags",
        "unknown column 'tags'",
    ),
    ("CSV no header", WITH_CSV, "a,a red shoe\n", "csv", "row 1", "header row required"),
    (
        "CSV duplicate id",
        WITH_CSV,
        "id,prompt\nrow-a,x\nhero-shot,y\n",
        "csv",
        "row 3, column id",
        "duplicate prompt id 'hero-shot': also used by",
    ),
    (
        "CSV duplicate id within",
        WITH_CSV,
        "id,prompt\nrow-a,x\nrow-a,y\n",
        "csv",
        "row 3, column id",
        "also used by row 2",
    ),
    (
        "CSV bad model",
        WITH_CSV,
        "id,prompt,model\nrow-a,x,jimeng\n",
        "csv",
        "row 2, column model",
        "unknown req_key or model 'jimeng'",
    ),
    (
        "CSV empty prompt",
        WITH_CSV,
        "id,prompt\nrow-a,\n",
        "csv",
        "row 2, column prompt",
        "prompt text is empty",
    ),
    (
        "CSV bad id",
        WITH_CSV,
        "id,prompt\nrow a,x\n",
        "csv",
        "row 2, column id",
        "prompt id must be",
    ),
    (
        "CSV row model unsupported in mode",
        {**WITH_CSV, "mode": "sync"},
        "id,prompt,model\nrow-a,x,jimeng_t2i_v30\n",
        "csv",
        "row 2, column model",
        "does not support mode 'sync'",
    ),
    ("CSV row too long", WITH_CSV, "id,prompt\nrow-a,x,y\n", "csv", "row 2", "expected 2 cells"),
]


@pytest.mark.parametrize(
    ("changes", "csv_text", "where", "path", "fragment"),
    [case[1:] for case in BROKEN],
    ids=[case[0] for case in BROKEN],
)
def test_broken_campaign_names_file_path_and_rule(
    tmp_path: Path, changes: Any, csv_text: str | None, where: str, path: str, fragment: str
) -> None:
    data = changes if isinstance(changes, str) else campaign_dict(changes)
    campaign_file = write_campaign(tmp_path, data)
    csv_file = tmp_path / "prompts.csv"
    if csv_text is not None:
        csv_file.write_text(csv_text, encoding="utf-8")
    with pytest.raises(CampaignError) as info:
        load_campaign(campaign_file)
    file = str(campaign_file if where == "yaml" else csv_file)
    lines = str(info.value).splitlines()
    matching = [line for line in lines if line.startswith(f"{file}: {path}: ")]
    assert matching, f"no problem at {file}: {path}; got:\n{info.value}"
    assert any(fragment in line for line in matching), str(info.value)


def test_broken_cases_are_many() -> None:
    assert len(BROKEN) >= 20


def test_several_structure_problems_are_all_reported(tmp_path: Path) -> None:
    data = campaign_dict(
        {
            "colour": "red",
            "name": "Bad Name",
            "output.bucket": DELETE,
            "output.prefix": "x",
            "concurrency": 0,
            "prompts.0.extra": 1,
        }
    )
    with pytest.raises(CampaignError) as info:
        load_campaign(write_campaign(tmp_path, data))
    paths = {problem.path for problem in info.value.problems}
    assert {"colour", "name", "output.bucket", "concurrency", "prompts[0].extra"} <= paths


def test_several_request_problems_are_all_reported(tmp_path: Path) -> None:
    data = campaign_dict(
        {"params.width": 5000, "prompts.1.params.height": 1, "prompts.0.params": {"scale": 99}}
    )
    with pytest.raises(CampaignError) as info:
        load_campaign(write_campaign(tmp_path, data))
    paths = [problem.path for problem in info.value.problems]
    assert "prompts[0].params.scale" in paths
    assert "prompts[1].params.height" in paths
    # a campaign parameter broken for many items is reported once per model, not per item
    assert paths.count("params.width") == 2
    messages = [p.message for p in info.value.problems if p.path == "params.width"]
    assert any("high_aes_ip_v20" in m for m in messages)
    assert any("high_aes_general_v20_L" in m for m in messages)


def test_error_lines_read_file_path_message(tmp_path: Path) -> None:
    path = write_campaign(tmp_path, campaign_dict({"prompts.1.params.width": 100}))
    with pytest.raises(CampaignError) as info:
        load_campaign(path)
    (problem,) = info.value.problems
    assert str(info.value) == f"{path}: prompts[1].params.width: {problem.message}"
    assert problem.message.endswith("(req_key high_aes_ip_v20)")
    assert info.value.as_dicts() == [
        {"file": str(path), "path": "prompts[1].params.width", "message": problem.message}
    ]
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("text", "path", "fragment"),
    [
        ("", "(file)", "empty"),
        ("- a\n- b\n", "(top level)", "mapping"),
    ],
)
def test_not_a_campaign(tmp_path: Path, text: str, path: str, fragment: str) -> None:
    with pytest.raises(CampaignError) as info:
        load_campaign(write_campaign(tmp_path, text))
    assert info.value.problems[0].path == path
    assert fragment in info.value.problems[0].message


def test_missing_campaign_file(tmp_path: Path) -> None:
    with pytest.raises(CampaignError, match="campaign file not found"):
        load_campaign(tmp_path / "nope.yaml")


def test_csv_rows_with_problems_are_all_reported(tmp_path: Path) -> None:
    (tmp_path / "prompts.csv").write_text(
        "id,prompt,model\nok,fine,\nbad id,x,\nempty,,\nm,x,nope\n", encoding="utf-8"
    )
    with pytest.raises(CampaignError) as info:
        load_campaign(write_campaign(tmp_path, campaign_dict(WITH_CSV)))
    paths = [p.path for p in info.value.problems]
    assert paths == ["row 3, column id", "row 4, column prompt", "row 5, column model"]


def test_base_is_valid(tmp_path: Path) -> None:
    assert load_campaign(write_campaign(tmp_path, BASE)).name == "spring-launch"


def test_yaml_merge_keys_are_supported(tmp_path: Path) -> None:
    from prefect_haoee.campaigns import load_campaign

    path = tmp_path / "merge.yaml"
    path.write_text(
        """
name: merged
model: high_aes_general_v20_L
prompts:
  - id: a
    prompt: x
    params: &square {width: 512, height: 512}
  - id: b
    prompt: y
    params:
      <<: *square
      width: 384
output: {bucket: some-bucket}
"""
    )
    campaign = load_campaign(path)
    second = campaign.prompt_specs()[1]
    assert second.params == {"width": 384, "height": 512}


def test_a_file_over_max_images_is_refused_with_its_cost_too(tmp_path: Path) -> None:
    """Both budget rules in one refusal, the cost as a first run would pay it."""
    path = write_campaign(tmp_path, campaign_dict({"budget": {"max_images": 1, "max_cost": 0.01}}))
    with pytest.raises(BudgetExceededError) as info:
        load_campaign(path)
    assert [p.path for p in info.value.problems] == ["budget.max_images", "budget.max_cost"]
