"""Request models of every family: valid bodies, invalid ones (the error names the field),
frozen/extra-forbid, request hashes and their ``kind``."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from pydantic import ValidationError

from prefect_haoee.client.families import (
    FamilyRequest,
    ImageEditRequest,
    ImageGenerationRequest,
    KlingImage2VideoRequest,
    KlingText2VideoRequest,
    MinimaxVideoRequest,
    SoraVideoRequest,
    SunoCustomRequest,
    SunoInspirationRequest,
)
from tests.families.support import png_b64

URL = "https://example.com/ref.png"

VALID: list[tuple[type[FamilyRequest], dict[str, Any]]] = [
    (ImageGenerationRequest, {"model": "gpt-4o-image-vip", "prompt": "a cat"}),
    (
        ImageGenerationRequest,
        {
            "model": "nano-banana-2",
            "prompt": "a cat",
            "aspect_ratio": "21:9",
            "image_size": "4K",
            "image": [URL, png_b64(), "data:image/png;base64," + png_b64()],
        },
    ),
    (
        ImageGenerationRequest,
        {
            "model": "doubao-seedream-4-5-251128",
            "prompt": "a cat",
            "size": "4K",
            "sequential_image_generation": "auto",
            "sequential_image_generation_options": {"max_images": 4},
            "watermark": False,
        },
    ),
    (ImageGenerationRequest, {"model": "doubao-seedream-4-0-250828", "prompt": "a", "size": "1K"}),
    (
        ImageEditRequest,
        {"model": "nano-banana", "prompt": "blue", "image": [png_b64()], "mask": png_b64()},
    ),
    (SoraVideoRequest, {"prompt": "a kite", "seconds": 12, "size": "1280x720"}),
    (SoraVideoRequest, {"model": "sora-2-pro", "prompt": "a kite", "size": "1792x1024"}),
    (MinimaxVideoRequest, {"first_frame_image": URL, "duration": 10, "resolution": "1080P"}),
    (MinimaxVideoRequest, {"model": "MiniMax-Hailuo-02", "prompt": "a kite"}),
    (KlingText2VideoRequest, {"prompt": "sea", "mode": "pro", "duration": 10, "cfg_scale": 0.5}),
    (KlingImage2VideoRequest, {"image": png_b64(), "image_tail": URL}),
    (SunoInspirationRequest, {"gpt_description_prompt": "a song", "mv": "chirp-auk"}),
    (SunoCustomRequest, {"prompt": "la la", "title": "T", "tags": "pop", "mv": "chirp-v3-5"}),
    (SunoCustomRequest, {"make_instrumental": True, "title": "Instrumental"}),
    (
        SunoCustomRequest,
        {"prompt": "more", "task_id": "t", "continue_at": 30.5, "continue_clip_id": "c"},
    ),
]

INVALID: list[tuple[type[FamilyRequest], dict[str, Any], str]] = [
    (ImageGenerationRequest, {"model": "nano-banana", "prompt": ""}, "prompt"),
    (ImageGenerationRequest, {"prompt": "a"}, "model"),
    (ImageGenerationRequest, {"model": "m", "prompt": "a", "n": 0}, "n"),
    (ImageGenerationRequest, {"model": "m", "prompt": "a", "size": "big"}, "size"),
    (ImageGenerationRequest, {"model": "m", "prompt": "a", "size": "2K"}, "size"),
    (
        ImageGenerationRequest,
        {"model": "doubao-seedream-4-5-251128", "prompt": "a", "size": "1024x1024"},
        "size",
    ),
    (
        ImageGenerationRequest,
        {"model": "doubao-seedream-4-5-251128", "prompt": "a", "size": "1K"},
        "size",
    ),
    (
        ImageGenerationRequest,
        {"model": "m", "prompt": "a", "response_format": "png"},
        "response_format",
    ),
    (ImageGenerationRequest, {"model": "m", "prompt": "a", "aspect_ratio": "7:5"}, "aspect_ratio"),
    (
        ImageGenerationRequest,
        {"model": "nano-banana", "prompt": "a", "image_size": "2K"},
        "image_size",
    ),
    (ImageGenerationRequest, {"model": "m", "prompt": "a", "image": ["ftp://x"]}, "image"),
    (ImageGenerationRequest, {"model": "m", "prompt": "a", "image": [URL] * 15}, "image"),
    (ImageGenerationRequest, {"model": "m", "prompt": "a", "image": []}, "image"),
    (
        ImageGenerationRequest,
        {"model": "nano-banana", "prompt": "a", "sequential_image_generation": "auto"},
        "sequential_image_generation",
    ),
    (
        ImageGenerationRequest,
        {
            "model": "doubao-seedream-4-5-251128",
            "prompt": "a",
            "sequential_image_generation_options": {"max_images": 3},
        },
        "sequential_image_generation_options",
    ),
    (
        ImageGenerationRequest,
        {
            "model": "doubao-seedream-4-5-251128",
            "prompt": "a",
            "sequential_image_generation": "auto",
            "sequential_image_generation_options": {"max_images": 16},
        },
        "sequential_image_generation_options",
    ),
    (ImageGenerationRequest, {"model": "m", "prompt": "a", "stream": True}, "stream"),
    (ImageEditRequest, {"model": "m", "prompt": "a", "image": []}, "image"),
    (
        ImageEditRequest,
        {"model": "m", "prompt": "a", "image": ["data:image/png;base64,AAAA"]},
        "image",
    ),
    (ImageEditRequest, {"model": "m", "prompt": "a", "image": [png_b64()], "mask": "%%"}, "mask"),
    (SoraVideoRequest, {"prompt": "a", "seconds": "5"}, "seconds"),
    (SoraVideoRequest, {"prompt": "a", "size": "1024x1792"}, "size"),
    (SoraVideoRequest, {"prompt": "a", "model": "veo-3"}, "model"),
    (SoraVideoRequest, {"prompt": ""}, "prompt"),
    (MinimaxVideoRequest, {"prompt": "a"}, "first_frame_image"),
    (MinimaxVideoRequest, {"model": "MiniMax-Hailuo-02"}, "prompt"),
    (MinimaxVideoRequest, {"first_frame_image": URL, "duration": 8}, "duration"),
    (MinimaxVideoRequest, {"first_frame_image": URL, "resolution": "720P"}, "resolution"),
    (KlingText2VideoRequest, {"prompt": "a", "duration": "7"}, "duration"),
    (KlingText2VideoRequest, {"prompt": "a", "cfg_scale": 2}, "cfg_scale"),
    (KlingText2VideoRequest, {"prompt": "a", "aspect_ratio": "4:3"}, "aspect_ratio"),
    (KlingText2VideoRequest, {"prompt": "a", "mode": "fast"}, "mode"),
    (KlingText2VideoRequest, {}, "prompt"),
    (KlingImage2VideoRequest, {"image": "data:image/png;base64," + png_b64()}, "image"),
    (KlingImage2VideoRequest, {"prompt": "a"}, "image"),
    (SunoInspirationRequest, {"gpt_description_prompt": ""}, "gpt_description_prompt"),
    (SunoInspirationRequest, {"gpt_description_prompt": "a", "mv": "v4"}, "mv"),
    (SunoCustomRequest, {"title": "no lyrics"}, "prompt"),
    (SunoCustomRequest, {"prompt": "a", "task_id": "t", "continue_at": 3}, "continue_clip_id"),
    (
        SunoCustomRequest,
        {"prompt": "a", "continue_at": -1, "task_id": "t", "continue_clip_id": "c"},
        "continue_at",
    ),
    (SunoCustomRequest, {"prompt": "a", "gpt_description_prompt": "b"}, "gpt_description_prompt"),
]


@pytest.mark.parametrize(
    ("cls", "body"), VALID, ids=[f"{c.__name__}-{i}" for i, (c, _) in enumerate(VALID)]
)
def test_valid_requests(cls: type[FamilyRequest], body: dict[str, Any]) -> None:
    request = cls.model_validate(body)
    assert request.kind in ("image", "video", "music")
    assert cls.model_validate(request.model_dump()) == request  # round-trips
    assert request.is_deterministic


@pytest.mark.parametrize(
    ("cls", "body", "field"),
    INVALID,
    ids=[f"{c.__name__}-{f}-{i}" for i, (c, _, f) in enumerate(INVALID)],
)
def test_invalid_requests_name_the_field(
    cls: type[FamilyRequest], body: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        cls.model_validate(body)
    assert info.value.errors()[0]["loc"][0] == field, info.value.errors()


def test_kinds_and_families() -> None:
    assert {
        cls.__name__: (cls.family, cls.kind)
        for cls in (
            ImageGenerationRequest,
            ImageEditRequest,
            SoraVideoRequest,
            MinimaxVideoRequest,
            KlingText2VideoRequest,
            KlingImage2VideoRequest,
            SunoInspirationRequest,
            SunoCustomRequest,
        )
    } == {
        "ImageGenerationRequest": ("openai_images", "image"),
        "ImageEditRequest": ("openai_images", "image"),
        "SoraVideoRequest": ("sora", "video"),
        "MinimaxVideoRequest": ("minimax", "video"),
        "KlingText2VideoRequest": ("kling", "video"),
        "KlingImage2VideoRequest": ("kling", "video"),
        "SunoInspirationRequest": ("suno", "music"),
        "SunoCustomRequest": ("suno", "music"),
    }


def test_the_hash_is_sha256_of_the_canonical_body() -> None:
    request = SoraVideoRequest(prompt="a kite")
    body = request.to_body()
    assert body == {"model": "sora-2", "prompt": "a kite", "seconds": "4", "size": "720x1280"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert request.request_hash == hashlib.sha256(text.encode()).hexdigest()
    assert SoraVideoRequest(prompt="a kite", seconds=4).request_hash == request.request_hash
    assert SoraVideoRequest(prompt="a kite!").request_hash != request.request_hash


def test_response_format_is_not_part_of_the_hash() -> None:
    a = ImageGenerationRequest(model="m", prompt="p")
    b = ImageGenerationRequest(model="m", prompt="p", response_format="b64_json")
    assert a.request_hash == b.request_hash and a.to_body() != b.to_body()
    assert "response_format" not in a.canonical_json()


def test_requests_are_frozen_and_strict() -> None:
    request = KlingText2VideoRequest(prompt="sea")
    with pytest.raises(ValidationError):
        request.prompt = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="extra"):
        KlingText2VideoRequest(prompt="sea", sound=True)  # type: ignore[call-arg]
    assert request.variant == "text2video" and request.model_id == "kling-v2-6"
    assert SunoCustomRequest(prompt="x").model_id == "chirp-v4"


def test_the_edit_form_carries_every_image() -> None:
    request = ImageEditRequest(model="m", prompt="p", image=[png_b64(), png_b64()], mask=png_b64())
    content, ctype = request.multipart()
    assert ctype.startswith("multipart/form-data; boundary=")
    assert content.count(b'name="image[]"') == 2 and content.count(b'name="mask"') == 1
    single, _ = ImageEditRequest(model="m", prompt="p", image=[png_b64()]).multipart()
    assert b'name="image"; filename="image_0.png"' in single
    assert repr(request).count("iVBOR") == 0  # base64 stays out of reprs
