"""Campaign items of the other families: kind, model routing, located problems, prices."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from prefect_haoee.campaigns import CampaignError, expand, parse_campaign
from prefect_haoee.client.families import (
    ImageGenerationRequest,
    KlingImage2VideoRequest,
    SoraVideoRequest,
    SunoCustomRequest,
    SunoInspirationRequest,
)

DAY = date(2026, 11, 27)


def campaign(prompts: list[dict[str, Any]], **extra: Any) -> Any:
    data = {"name": "mixed", "model": "high_aes_general_v20_L", "prompts": prompts}
    data["output"] = {"bucket": "some-bucket"}
    data.update(extra)
    return parse_campaign(data, "mixed.yaml", Path("."))


def test_mixed_kinds_expand_to_family_requests() -> None:
    items = expand(
        campaign(
            [
                {"id": "still", "prompt": "a kite"},
                {"id": "poster", "model": "nano-banana", "prompt": "a poster", "kind": "image"},
                {
                    "id": "teaser",
                    "model": "sora-2",
                    "kind": "video",
                    "prompt": "a kite flies",
                    "params": {"seconds": "8"},
                },
                {
                    "id": "kling",
                    "model": "kling-v2-6",
                    "prompt": "waves",
                    "image_urls": ["https://example.com/a.jpg"],
                },
                {"id": "jingle", "model": "chirp-v4", "kind": "music", "prompt": "a happy jingle"},
                {
                    "id": "song",
                    "model": "chirp-v4",
                    "prompt": "la la la",
                    "params": {"title": "La", "tags": "pop"},
                },
            ]
        ),
        DAY,
    )
    by_id = {i.prompt_id: i for i in items}
    assert by_id["still"].kind == "image" and by_id["still"].mode == "sync"
    assert isinstance(by_id["poster"].request, ImageGenerationRequest)
    assert by_id["poster"].mode == "sync"
    assert isinstance(by_id["teaser"].request, SoraVideoRequest)
    assert by_id["teaser"].kind == "video" and by_id["teaser"].mode == "async"
    assert by_id["teaser"].request.seconds == "8"
    assert isinstance(by_id["kling"].request, KlingImage2VideoRequest)
    assert isinstance(by_id["jingle"].request, SunoInspirationRequest)
    assert by_id["jingle"].request.gpt_description_prompt == "a happy jingle"
    assert isinstance(by_id["song"].request, SunoCustomRequest)
    assert by_id["jingle"].kind == "music" and by_id["jingle"].cost == 0.5
    assert by_id["teaser"].object_stem.endswith(by_id["teaser"].request.request_hash)
    for item in items:  # round trip as the flow's JSON would
        assert type(item).model_validate_json(item.model_dump_json()) == item


@pytest.mark.parametrize(
    ("prompt", "path", "needle"),
    [
        ({"model": "sora-2", "kind": "music"}, "prompts[0].kind", "makes video"),
        ({"model": "sora-2", "variants": 2}, "prompts[0].variants", "no seed parameter"),
        ({"model": "sora-2", "seed": 3}, "prompts[0].seed", "takes no seed"),
        ({"model": "sora-2", "params": {"seconds": "99"}}, "prompts[0].params.seconds", "sora-2"),
        ({"model": "sora-2", "params": {"fps": 3}}, "prompts[0].params.fps", "unknown parameter"),
        (
            {"model": "chirp-v4", "image_urls": ["https://x/y.png"]},
            "prompts[0].image_urls",
            "no image",
        ),
        (
            {"model": "nano-banana", "binary_data_base64": ["aGk="]},
            "prompts[0].binary_data_base64",
            "image_urls",
        ),
        ({"model": "sora-2", "mode": "sync"}, "prompts[0].mode", "does not support"),
        ({"model": "veo-3"}, "prompts[0].model", "unknown req_key or model"),
    ],
)
def test_family_problems_are_located(prompt: dict[str, Any], path: str, needle: str) -> None:
    with pytest.raises(CampaignError) as info:
        expand(campaign([{"id": "p", "prompt": "x", **prompt}]), DAY)
    lines = str(info.value).splitlines()
    assert any(f"mixed.yaml: {path}:" in line and needle in line for line in lines), lines
