"""Planning: expansion, seeds, parameter merging, prefixes, stored items and budgets."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
from datetime import date
from pathlib import Path
from typing import Any, cast

import pytest

from prefect_haoee.campaigns import (
    BudgetExceededError,
    Campaign,
    CampaignError,
    WorkItem,
    derive_seed,
    expand,
    load_campaign,
    make_plan,
    pricing,
)
from prefect_haoee.campaigns.build import request_body
from prefect_haoee.client.requests import (
    HighAesGeneralV20L,
    HighAesIpV20,
    VisualRequest,
)
from tests.campaigns.support import campaign_dict, write_campaign

DAY = date(2025, 3, 1)
NEXT_DAY = date(2025, 3, 2)
PNG_B64 = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"0" * 64).decode()


def make(changes: dict[str, Any] | None = None) -> Campaign:
    return Campaign.model_validate(campaign_dict(changes))


def by_label(items: list[WorkItem]) -> dict[str, WorkItem]:
    return {item.label: item for item in items}


# -- expansion -------------------------------------------------------------------------
def test_prompts_times_variants_with_per_prompt_variants() -> None:
    items = expand(make(), DAY)
    # hero-shot takes the campaign's 2 variants, keep-face its own 4
    assert [item.label for item in items] == [
        "hero-shot-v0",
        "hero-shot-v1",
        "keep-face-v0",
        "keep-face-v1",
        "keep-face-v2",
        "keep-face-v3",
    ]
    assert {item.campaign for item in items} == {"spring-launch"}
    assert by_label(items)["keep-face-v0"].req_key == "high_aes_ip_v20"
    assert by_label(items)["hero-shot-v0"].req_key == "high_aes_general_v20_L"
    assert isinstance(by_label(items)["keep-face-v0"].request, HighAesIpV20)


def test_campaign_variants_apply_to_every_prompt_without_its_own() -> None:
    items = expand(make({"variants": 3, "prompts.1.variants": 1}), DAY)
    assert [item.label for item in items].count("keep-face-v0") == 1
    assert len(items) == 4


# -- seeds -----------------------------------------------------------------------------
def test_derived_seeds_are_distinct_and_stable_across_runs() -> None:
    first = expand(make(), DAY)
    again = expand(make(), DAY)
    seeds = [item.seed for item in first]
    assert len(set(seeds)) == len(seeds)
    assert all(seed is not None and 0 <= seed < 2**31 - 1 for seed in seeds)
    assert seeds == [item.seed for item in again]
    assert [i.request_hash for i in first] == [i.request_hash for i in again]
    assert all(item.cacheable for item in first)


def test_derived_seed_formula() -> None:
    text = "spring-launch:hero-shot:1:"
    expected = int(hashlib.sha256(text.encode()).hexdigest(), 16) % (2**31 - 1)
    assert derive_seed("spring-launch", "hero-shot", 1) == expected
    assert by_label(expand(make(), DAY))["hero-shot-v1"].seed == expected


def test_without_salt_seeds_and_hashes_do_not_change_with_the_date() -> None:
    today, tomorrow = expand(make(), DAY), expand(make(), NEXT_DAY)
    assert [i.seed for i in today] == [i.seed for i in tomorrow]
    assert [i.request_hash for i in today] == [i.request_hash for i in tomorrow]


def test_seed_salt_with_date_changes_seeds_each_day() -> None:
    campaign = make({"seed_salt": "daily-{date}"})
    today, tomorrow = expand(campaign, DAY), expand(campaign, NEXT_DAY)
    assert all(a.seed != b.seed for a, b in zip(today, tomorrow, strict=True))
    assert [i.seed for i in today] == [i.seed for i in expand(campaign, DAY)]
    expected = derive_seed("spring-launch", "hero-shot", 0, "daily-2025-03-01")
    assert today[0].seed == expected


def test_explicit_seed_fixes_variant_zero_and_counts_up() -> None:
    items = by_label(expand(make({"prompts.0.seed": 100}), DAY))
    assert items["hero-shot-v0"].seed == 100
    assert items["hero-shot-v1"].seed == 101
    assert items["hero-shot-v0"].request.seed_value == 100
    assert items["hero-shot-v0"].cacheable


def test_random_seed_is_explicit_and_never_cached() -> None:
    campaign = make({"prompts.0.seed": -1})
    items = by_label(expand(campaign, DAY))
    random = [items["hero-shot-v0"], items["hero-shot-v1"]]
    assert [item.seed for item in random] == [-1, -1]
    assert not any(item.cacheable for item in random)
    # same request for both variants, yet two distinct objects
    assert random[0].request_hash == random[1].request_hash
    assert random[0].object_stem != random[1].object_stem
    # even when their objects exist, random items are generated again
    plan = make_plan(campaign, DAY, {item.object_stem for item in items.values()})
    assert [item.label for item in plan.to_generate] == ["hero-shot-v0", "hero-shot-v1"]


def test_secondary_seeds_follow_the_item_seed() -> None:
    campaign = make({"model": "high_aes_general_v21_L"})
    item = expand(campaign, DAY)[0]
    body = item.request.to_body()
    assert body["llm_seed"] == body["sr_seed"] == body["seed"] == item.seed
    assert item.cacheable


# -- request building ------------------------------------------------------------------
def test_prompt_params_override_campaign_params() -> None:
    campaign = make(
        {
            "params": {"width": 512, "height": 512, "scale": 3.0},
            "prompts.0.params": {"scale": 5.0, "height": 768},
        }
    )
    items = by_label(expand(campaign, DAY))
    hero = items["hero-shot-v0"].request
    assert isinstance(hero, HighAesGeneralV20L)
    assert (hero.width, hero.height, hero.scale) == (512, 768, 5.0)
    keep = items["keep-face-v0"].request
    assert isinstance(keep, HighAesIpV20)
    assert (keep.width, keep.height, keep.scale, keep.ref_id_weight) == (512, 512, 3.0, 0.3)


def test_nested_params_merge_shallowly() -> None:
    campaign = make(
        {
            "params.logo_info": {"add_logo": True, "opacity": 0.5},
            "prompts.0.params": {"logo_info": {"add_logo": False}},
        }
    )
    items = by_label(expand(campaign, DAY))
    hero_logo = items["hero-shot-v0"].request.logo_info
    keep_logo = items["keep-face-v0"].request.logo_info
    assert hero_logo is not None and keep_logo is not None
    assert (hero_logo.add_logo, hero_logo.opacity) == (False, 0.3)  # replaced whole
    assert (keep_logo.add_logo, keep_logo.opacity) == (True, 0.5)


@pytest.mark.parametrize(
    ("req_key", "field", "extra"),
    [
        ("i2i_inpainting_edit", "custom_prompt", {"binary_data_base64": [PNG_B64, PNG_B64]}),
        (
            "img2img_anime_accelerated_maintain_id",
            "positive_prompt",
            {"binary_data_base64": [PNG_B64]},
        ),
        ("jimeng_t2i_v30", "prompt", {}),
    ],
)
def test_prompt_text_goes_to_the_models_prompt_field(
    req_key: str, field: str, extra: dict[str, Any]
) -> None:
    prompt = {"id": "p", "prompt": "a cat", "model": req_key, "variants": 1, **extra}
    campaign = make({"params": {}, "prompts": [prompt]})
    (item,) = expand(campaign, DAY)
    assert item.request.to_body()[field] == "a cat"


def test_model_without_a_prompt_field_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect_haoee.client import catalog, requests

    class NoText(VisualRequest):
        req_key: str = "no_text_v1"
        seed: int = -1

    spec = catalog.ModelSpec("no_text_v1", "t", ("sync",), 0, 0, "-", (8, 8))
    monkeypatch.setitem(catalog.CATALOG, "no_text_v1", spec)
    monkeypatch.setitem(requests.REQUEST_CLASSES, "no_text_v1", NoText)
    campaign = make({"params": {}, "prices": {"no_text_v1": 0.1}, "prompts.0.model": "no_text_v1"})
    with pytest.raises(CampaignError) as info:
        expand(campaign, DAY)
    (problem,) = info.value.problems
    assert problem.path == "prompts[0].model"
    assert "no_text_v1 has no prompt field" in problem.message


def test_request_body_leaves_reserved_fields_to_the_campaign() -> None:
    campaign = make()
    prompt = campaign.prompt_specs()[1]
    body = request_body(campaign, prompt, 42)
    assert body["req_key"] == "high_aes_ip_v20"
    assert body["image_urls"] == ["https://example.com/ref.jpg"]
    assert body["seed"] == 42
    assert body["prompt"] == "the same person hiking at sunrise"


def test_programmatic_campaign_problems_are_located() -> None:
    campaign = make({"prompts.1.params.width": 5000})
    with pytest.raises(CampaignError) as info:
        expand(campaign, DAY)
    (problem,) = info.value.problems
    assert (problem.file, problem.path) == ("<campaign>", "prompts[1].params.width")


def test_unresolved_csv_source_cannot_be_expanded() -> None:
    campaign = make({"prompts.2": {"from_csv": "prompts.csv"}})
    with pytest.raises(CampaignError, match=r"prompts\[2\].from_csv: .*load_campaign"):
        expand(campaign, DAY)


# -- modes, prefixes, metadata, costs ----------------------------------------------------
def test_mode_resolution() -> None:
    items = by_label(expand(make(), DAY))
    assert items["hero-shot-v0"].mode == "sync"  # high_aes_general_v20_L prefers sync
    assert items["keep-face-v0"].mode == "sync"
    items = by_label(expand(make({"mode": "async", "prompts.1.mode": "sync"}), DAY))
    assert items["hero-shot-v0"].mode == "async"
    assert items["keep-face-v0"].mode == "sync"
    jimeng = make({"params": {}, "prompts.0.model": "jimeng_t2i_v30"})
    assert by_label(expand(jimeng, DAY))["hero-shot-v0"].mode == "async"


def test_default_prefix_and_object_stem() -> None:
    item = expand(make(), DAY)[0]
    assert item.prefix == "campaigns/spring-launch/2025-03-01"
    assert item.object_stem == f"{item.prefix}/{item.request_hash}"
    assert item.request_hash == item.request.request_hash


def test_per_item_prefix() -> None:
    campaign = make({"output.prefix": "out/{name}/{prompt_id}/v{variant}/"})
    items = by_label(expand(campaign, DAY))
    assert items["keep-face-v2"].prefix == "out/spring-launch/keep-face/v2"
    assert campaign.output.per_item
    plan = make_plan(campaign, DAY)
    assert plan.common_prefix == "out/spring-launch"
    assert make_plan(make(), DAY).common_prefix == "campaigns/spring-launch/2025-03-01"


def test_metadata_and_cost() -> None:
    items = by_label(expand(make({"prices": {"high_aes_ip_v20": 1.5}}), DAY))
    keep = items["keep-face-v3"]
    assert keep.metadata == {
        "campaign": "spring-launch",
        "prompt-id": "keep-face",
        "variant": "3",
        "req-key": "high_aes_ip_v20",
        "seed": str(keep.seed),
    }
    assert keep.cost == 1.5
    assert items["hero-shot-v0"].cost == pricing.DEFAULT_PRICES["high_aes_general_v20_L"]


def test_missing_price_is_a_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(cast(dict[str, float], pricing.DEFAULT_PRICES), "high_aes_ip_v20")
    with pytest.raises(CampaignError) as info:
        expand(make(), DAY)
    (problem,) = info.value.problems
    assert problem.path == "prompts[1].model"
    assert "add it under 'prices'" in problem.message
    assert expand(make({"prices": {"high_aes_ip_v20": 0.5}}), DAY)


def test_work_item_round_trips() -> None:
    campaign = make({"prompts.1.image_urls": None, "prompts.1.binary_data_base64": [PNG_B64]})
    for item in expand(campaign, DAY):
        again = WorkItem.model_validate_json(item.model_dump_json())
        assert again == item
        assert type(again.request) is type(item.request)
        assert again.request.request_hash == item.request_hash
        assert WorkItem.model_validate(item.model_dump()) == item


# -- plans and budgets -----------------------------------------------------------------
def test_plan_counts_and_cost() -> None:
    plan = make_plan(make(), DAY, set())
    assert plan.total == plan.paid_calls == 6
    assert plan.stored == frozenset()
    assert plan.images_by_req_key == {"high_aes_general_v20_L": 2, "high_aes_ip_v20": 4}
    expected = 2 * pricing.price_for("high_aes_general_v20_L") + 4 * pricing.price_for(
        "high_aes_ip_v20"
    )
    assert plan.cost == pytest.approx(expected)
    plan.check_budget()


def test_stored_items_are_free() -> None:
    campaign = make()
    items = expand(campaign, DAY)
    stored = {items[0].object_stem, "campaigns/other/object", items[3].object_stem}
    plan = make_plan(campaign, DAY, stored)
    assert plan.stored == {items[0].request_hash, items[3].request_hash}
    assert plan.paid_calls == 4
    assert [item.label for item in plan.to_generate] == [
        "hero-shot-v1",
        "keep-face-v0",
        "keep-face-v2",
        "keep-face-v3",
    ]
    assert plan.cost == pytest.approx(sum(item.cost for item in plan.to_generate))


def test_over_max_images_is_refused() -> None:
    plan = make_plan(make({"budget.max_images": 5}), DAY)
    with pytest.raises(BudgetExceededError) as info:
        plan.check_budget()
    (problem,) = info.value.problems
    assert problem.path == "budget.max_images"
    assert "6 images" in problem.message and "max_images 5" in problem.message
    assert isinstance(info.value, CampaignError)


def test_over_max_cost_is_refused(tmp_path: Path) -> None:
    path = write_campaign(tmp_path, campaign_dict({"budget.max_cost": 1.0}))
    plan = make_plan(load_campaign(path), DAY)
    with pytest.raises(BudgetExceededError) as info:
        plan.check_budget()
    (problem,) = info.value.problems
    assert str(problem).startswith(f"{path}: budget.max_cost: the 6 paid calls cost 1.80 CNY")
    assert "guesses" in problem.message


def test_both_budget_limits_are_reported() -> None:
    plan = make_plan(make({"budget": {"max_images": 1, "max_cost": 0.01}}), DAY)
    with pytest.raises(BudgetExceededError) as info:
        plan.check_budget()
    assert [p.path for p in info.value.problems] == ["budget.max_images", "budget.max_cost"]


def test_fully_stored_rerun_costs_nothing_and_passes() -> None:
    campaign = make({"budget": {"max_images": 6, "max_cost": 0.0}})
    stems = {item.object_stem for item in expand(campaign, DAY)}
    plan = make_plan(campaign, DAY, stems)
    assert plan.paid_calls == 0
    assert plan.to_generate == []
    assert plan.cost == 0
    plan.check_budget()
    assert len(plan.stored) == 6


def test_price_sums_do_not_trip_the_budget_by_rounding() -> None:
    prompts = [{"id": f"p{i}", "prompt": f"cat {i}"} for i in range(3)]
    prices = {"high_aes_general_v20_L": 0.1}
    campaign = make({"prompts": prompts, "variants": 1, "prices": prices, "budget.max_cost": 0.3})
    plan = make_plan(campaign, DAY)
    assert sum(item.cost for item in plan.items) > 0.3  # 0.30000000000000004
    plan.check_budget()


def test_summary_is_json_without_request_bodies() -> None:
    campaign = make({"prompts.1.image_urls": None, "prompts.1.binary_data_base64": [PNG_B64]})
    items = expand(campaign, DAY)
    plan = make_plan(campaign, DAY, {items[0].object_stem})
    summary = plan.summary()
    text = json.dumps(summary)
    assert PNG_B64 not in text
    assert summary["total"] == 6
    assert summary["stored"] == 1
    assert summary["paid_calls"] == 5
    assert summary["cost"] == plan.cost
    assert summary["currency"] == "CNY"
    assert summary["budget"]["ok"] is True
    assert summary["items"][0]["stored"] is True
    assert summary["items"][1] == {**items[1].short(), "stored": False}
    assert set(summary["items"][1]) >= {"prompt_id", "variant", "req_key", "seed", "object_stem"}


def test_planning_makes_no_network_call(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("planning tried to open a socket")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    campaign = load_campaign(write_campaign(tmp_path, campaign_dict()))
    make_plan(campaign, DAY).check_budget()


def test_the_run_logs_headline_names_the_currency() -> None:
    plan = make_plan(make(), DAY)
    assert plan.headline() == (
        f"spring-launch: 6 images, 0 already stored, 6 to generate ({plan.cost:.2f} CNY)"
    )
