"""How references travel in the other families (decided by each request class)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from prefect_haoee.campaigns import CampaignError, expand, load_campaign
from prefect_haoee.client.families import (
    ImageEditRequest,
    ImageGenerationRequest,
    KlingImage2VideoRequest,
    MinimaxVideoRequest,
    SoraVideoRequest,
)
from tests.references.support import RED, campaign_file, png

DAY = date(2026, 12, 2)


def items(tmp_path: Path, model: str, images: list[str]) -> list:  # type: ignore[type-arg]
    (tmp_path / "a.png").write_bytes(png(RED))
    (tmp_path / "b.png").write_bytes(png((10, 10, 200)))
    prompt = {"id": "p", "prompt": "the hero", "model": model, "images": images}
    return expand(load_campaign(campaign_file(tmp_path, [prompt])), DAY)


def test_openai_style_files_go_to_the_edits_form(tmp_path: Path) -> None:
    (item,) = items(tmp_path, "nano-banana", ["a.png", "b.png"])
    assert isinstance(item.request, ImageEditRequest)
    assert item.references[0]["via"] == "multipart"
    content, ctype = item.request.multipart()
    assert ctype.startswith("multipart/form-data") and png(RED) in content
    assert "a.png" not in item.request.canonical_json()
    assert item.request.image[0] not in item.request.canonical_json()  # counted by sha256


def test_openai_style_urls_go_to_generations(tmp_path: Path) -> None:
    (item,) = items(tmp_path, "nano-banana", ["https://cdn.example.com/a.png"])
    assert isinstance(item.request, ImageGenerationRequest)
    assert item.request.image == ["https://cdn.example.com/a.png"]


def test_video_first_frames(tmp_path: Path) -> None:
    (sora,) = items(tmp_path, "sora-2", ["a.png"])
    assert isinstance(sora.request, SoraVideoRequest) and sora.request.input_reference
    (minimax,) = items(tmp_path, "MiniMax-Hailuo-2.3-Fast", ["a.png"])
    assert isinstance(minimax.request, MinimaxVideoRequest)
    assert (minimax.request.first_frame_image or "").startswith("data:image/png;base64,")
    (kling,) = items(tmp_path, "kling-v2-6", ["a.png", "b.png"])
    assert isinstance(kling.request, KlingImage2VideoRequest) and kling.request.image_tail


@pytest.mark.parametrize(
    ("model", "images", "rule"),
    [
        ("sora-2", ["a.png", "b.png"], "at most 1 image"),
        ("chirp-v4", ["a.png"], "takes no input image"),
        ("nano-banana", ["a.png", "https://cdn.example.com/x.png"], "not both"),
        ("jimeng_t2i_v40", ["a.png"], "URLs only"),
        ("high_aes_i2i", ["https://cdn.example.com/x.png"], "files only"),
    ],
)
def test_what_a_model_cannot_take_is_located(
    tmp_path: Path, model: str, images: list[str], rule: str
) -> None:
    with pytest.raises(CampaignError) as caught:
        items(tmp_path, model, images)
    lines = [str(p) for p in caught.value.problems]
    assert any(": prompts[0].images: " in line and rule in line for line in lines), lines
