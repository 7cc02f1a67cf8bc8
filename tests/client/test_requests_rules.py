"""Request models: per-model ranges, fixed values and cross-field rules."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from prefect_haoee.client.requests import (
    ControlNetArg,
    JimengSeedream46Cvtob,
    JimengT2IV40,
    StyleReferenceArgs,
    parse_request,
)
from tests.client.test_requests_examples import B64, B64_2, URL, URL_2, body

CN = {"type": "depth", "strength": 0.6, "binary_data_index": 0}
TWO_B64 = {"binary_data_base64": [B64, B64_2]}

CTRL = "high_aes_scheduler_svr_controlnet_v2.0"
PORTRAIT = "img2img_anime_accelerated_maintain_id"
PORTRAIT_ANIME = "img2img_stable_accelerated_maintain_id_usage"


def case(req_key: str, loc: tuple[str | int, ...], **overrides: Any) -> Any:
    test_id = f"{req_key}-{'.'.join(map(str, loc))}-" + ",".join(
        f"{k}={str(v)[:12]}" for k, v in overrides.items()
    )
    return pytest.param(req_key, overrides, loc, id=test_id)


INVALID = [
    # 通用2.0(S)-角色特征保持
    case("high_aes_ip_v20", ("width",), width=255),
    case("high_aes_ip_v20", ("width",), width=769),
    case("high_aes_ip_v20", ("height",), height=1024),
    case("high_aes_ip_v20", ("scale",), scale=0.5),
    case("high_aes_ip_v20", ("scale",), scale=10.5),
    case("high_aes_ip_v20", ("ddim_steps",), ddim_steps=0),
    case("high_aes_ip_v20", ("ddim_steps",), ddim_steps=201),
    case("high_aes_ip_v20", ("cfg_rescale",), cfg_rescale=1.5),
    case("high_aes_ip_v20", ("ref_ip_weight",), ref_ip_weight=-0.1),
    case("high_aes_ip_v20", ("ref_id_weight",), ref_id_weight=1.01),
    case("high_aes_ip_v20", ("seed",), seed=-2),
    case("high_aes_ip_v20", ("seed",), seed="random"),
    case("high_aes_ip_v20", ("use_sr",), use_sr="maybe"),
    case("high_aes_ip_v20", ("logo_info", "position"), logo_info={"position": 4}),
    case("high_aes_ip_v20", ("logo_info", "language"), logo_info={"language": 2}),
    case("high_aes_ip_v20", ("logo_info", "opacity"), logo_info={"opacity": 1.5}),
    case("high_aes_ip_v20", ("logo_info", "color"), logo_info={"color": "red"}),
    case(
        "high_aes_ip_v20",
        ("logo_info", "logo_text_content"),
        logo_info={"logo_text_content": "x" * 51},
    ),
    case("high_aes_ip_v20", ("image_urls",), image_urls=[URL, URL_2]),
    case("high_aes_ip_v20", ("image_urls",), image_urls=[]),
    # 通用2.0Pro
    case("high_aes_general_v20_L", ("width",), width=800),
    case("high_aes_general_v20_L", ("height",), height=200),
    case("high_aes_general_v20_L", ("model_version",), model_version="general_v2.1_L"),
    case("high_aes_general_v20_L", ("req_schedule_conf",), req_schedule_conf="other"),
    case("high_aes_general_v20_L", ("ddim_steps",), ddim_steps=51),
    case("high_aes_general_v20_L", ("scale",), scale=0),
    # 通用2.0(S)
    case("high_aes_general_v20", ("width",), width=681),
    case("high_aes_general_v20", ("height",), height=255),
    case("high_aes_general_v20", ("model_version",), model_version="general_v2.0_L"),
    case("high_aes_general_v20", ("ddim_steps",), ddim_steps=0),
    case("high_aes_general_v20", ("height",), width=512),
    # 通用2.1
    case("high_aes_general_v21_L", ("sr_strength",), sr_strength=1.5),
    case("high_aes_general_v21_L", ("sr_steps",), sr_steps=0),
    case("high_aes_general_v21_L", ("sr_scale",), sr_scale=11),
    case("high_aes_general_v21_L", ("llm_seed",), llm_seed=-2),
    case("high_aes_general_v21_L", ("sr_seed",), sr_seed=-3),
    case("high_aes_general_v21_L", ("width",), width=769),
    case(
        "high_aes_general_v21_L",
        ("req_schedule_conf",),
        req_schedule_conf="general_v20_9B_rephraser",
    ),
    # 即梦2.1
    case("jimeng_high_aes_general_v21_L", ("height",), width=512),
    case("jimeng_high_aes_general_v21_L", ("width",), height=512),
    case("jimeng_high_aes_general_v21_L", ("width",), width=1000, height=512),
    # 通用1.4
    case("high_aes_general_v14", ("scale",), scale=31),
    case("high_aes_general_v14", ("model_version",), model_version="general_v2.0"),
    case("high_aes_general_v14", ("height",), height=100),
    # 即梦3.0 (high_aes_general_v30l_zt2i)
    case("high_aes_general_v30l_zt2i", ("width",), width=4096),
    case("high_aes_general_v30l_zt2i", ("scale",), scale=10.1),
    # 即梦3.0 / 3.1
    case("jimeng_t2i_v30", ("height",), width=1328),
    case("jimeng_t2i_v30", ("width",), height=1328),
    case("jimeng_t2i_v30", ("width",), width=3000, height=1328),
    case("jimeng_t2i_v31", ("width",), width=511, height=1328),
    case("jimeng_t2i_v31", ("height",), width=1328, height=2049),
    # 即梦图生图3.0
    case("jimeng_i2i_v30", ("scale",), scale=1.5),
    case("jimeng_i2i_v30", ("height",), width=1328),
    case("jimeng_i2i_v30", ("width",), width=2017, height=1328),
    case("jimeng_i2i_v30", ("prompt",), prompt="x" * 801),
    case("jimeng_i2i_v30", ("image_urls",), image_urls=None),
    # 即梦4.0
    case("jimeng_t2i_v40", ("width",), width=1000, height=1000),
    case("jimeng_t2i_v40", ("width",), width=5000, height=5000),
    case("jimeng_t2i_v40", ("height",), width=2048),
    case("jimeng_t2i_v40", ("width",), height=2048),
    case("jimeng_t2i_v40", ("width",), width=4000, height=1000),
    case("jimeng_t2i_v40", ("width",), width=2048, height=2048, max_ratio=0.5, min_ratio=0.1),
    case("jimeng_t2i_v40", ("size",), size=1024 * 1024 - 1),
    case("jimeng_t2i_v40", ("size",), size=4096 * 4096 + 1),
    case("jimeng_t2i_v40", ("scale",), scale=1.01),
    case("jimeng_t2i_v40", ("scale",), scale=-0.01),
    case("jimeng_t2i_v40", ("min_ratio",), min_ratio=1 / 17),
    case("jimeng_t2i_v40", ("min_ratio",), min_ratio=16),
    case("jimeng_t2i_v40", ("max_ratio",), max_ratio=16),
    case("jimeng_t2i_v40", ("min_ratio",), min_ratio=4, max_ratio=3),
    case("jimeng_t2i_v40", ("force_single",), force_single="sometimes"),
    case("jimeng_t2i_v40", ("binary_data_base64",), binary_data_base64=[B64]),
    case("jimeng_t2i_v40", ("image_urls",), image_urls=[URL] * 11),
    case("jimeng_t2i_v40", ("prompt",), prompt="x" * 801),
    case("jimeng_t2i_v40", ("callback_url",), callback_url="https://example.com/cb"),
    # 即梦4.6
    case("jimeng_seedream46_cvtob", ("scale",), scale=0),
    case("jimeng_seedream46_cvtob", ("scale",), scale=101),
    case("jimeng_seedream46_cvtob", ("scale",), scale=0.5),
    case("jimeng_seedream46_cvtob", ("max_ratio",), max_ratio=1 / 16),
    case("jimeng_seedream46_cvtob", ("max_ratio",), max_ratio=16.5),
    case("jimeng_seedream46_cvtob", ("image_urls",), image_urls=[URL] * 15),
    case("jimeng_seedream46_cvtob", ("width",), width=6198, height=2656 * 2),
    # 即梦 inpainting
    case("jimeng_image2image_dream_inpaint", ("binary_data_base64",), binary_data_base64=[B64]),
    case("jimeng_image2image_dream_inpaint", ("binary_data_base64",), binary_data_base64=[B64] * 3),
    case("jimeng_image2image_dream_inpaint", ("prompt",), prompt="删" * 121),
    case("jimeng_image2image_dream_inpaint", ("seed",), seed=-2),
    # SeedEdit
    case("byteedit_v2.0", ("scale",), scale=1.5),
    case("byteedit_v2.0", ("image_urls",), image_urls=None),
    case("byteedit_v2.0", ("image_urls",), image_urls=[URL, URL_2]),
    case("byteedit_v2.0", ("negative_prompt",), negative_prompt="x" * 801),
    case("seededit_v3.0", ("scale",), scale=-0.1),
    case("seededit_v3.0", ("image_urls",), binary_data_base64=None),
    # inpainting edit
    case("i2i_inpainting_edit", ("prompt",), prompt="a red car"),
    case("i2i_inpainting_edit", ("image_urls",), image_urls=[URL]),
    case("i2i_inpainting_edit", ("steps",), steps=0),
    case("i2i_inpainting_edit", ("scale",), scale=21),
    # 通用2.0 controlnet
    case(CTRL, ("controlnet_args", 0, "type"), controlnet_args=[{**CN, "type": "seg"}]),
    case(CTRL, ("controlnet_args", 0, "strength"), controlnet_args=[{**CN, "strength": 1.5}]),
    case(CTRL, ("controlnet_args", 0, "strength"), controlnet_args=[{"type": "pose"}]),
    case(
        CTRL,
        ("controlnet_args", 0, "binary_data_index"),
        controlnet_args=[{**CN, "binary_data_index": 1}],
    ),
    case(
        CTRL,
        ("controlnet_args", 0, "binary_data_index"),
        controlnet_args=[{**CN, "binary_data_index": -1}],
    ),
    case(CTRL, ("controlnet_args", 0, "weight"), controlnet_args=[{**CN, "weight": 1}]),
    case(CTRL, ("controlnet_args",), controlnet_args=[]),
    case(CTRL, ("controlnet_args",), controlnet_args=[CN] * 4),
    case(CTRL, ("model_version",), model_version="general_v2.0"),
    case(CTRL, ("ddim_steps",), ddim_steps=100),
    # 通用XL pro
    case("i2i_xl_sft", ("scale",), scale=31),
    case("i2i_xl_sft", ("ddim_steps",), ddim_steps=51),
    case(
        "i2i_xl_sft",
        ("style_reference_args", "binary_data_index"),
        style_reference_args={"binary_data_index": 1},
    ),
    case(
        "i2i_xl_sft",
        ("style_reference_args", "style_weight"),
        style_reference_args={"style_weight": 1.5},
    ),
    case(
        "i2i_xl_sft",
        ("controlnet_args", 1, "binary_data_index"),
        image_urls=[URL, URL_2],
        controlnet_args=[CN, {**CN, "binary_data_index": 2}],
    ),
    case("i2i_xl_sft", ("image_urls",), image_urls=[URL] * 3),
    case("t2i_xl_sft", ("width",), width=4096, height=1024),
    case("t2i_xl_sft", ("width",), height=1024),
    case("t2i_xl_sft", ("image_urls",), image_urls=[URL]),
    # 通用1.1 图生图
    case("high_aes_i2i", ("image_urls",), image_urls=[URL]),
    case("high_aes_i2i", ("binary_data_base64",), binary_data_base64=None),
    case("high_aes_i2i", ("strength",), strength=1.1),
    case("high_aes_i2i", ("scale",), scale=0.9),
    case("high_aes_i2i", ("scale",), scale=30.5),
    case("high_aes_i2i", ("ddim_steps",), ddim_steps=51),
    case("high_aes_i2i", ("prompt",), prompt="x" * 101),
    # 动漫1.3
    case("high_aes", ("model_version",), model_version="anime_v1.2"),
    case("high_aes", ("image_urls",), image_urls=[URL, URL_2]),
    case("high_aes", ("strength",), strength=1.1),
    case("high_aes", ("width",), width=4000),
    # 人像保持
    case(PORTRAIT, ("face_image",), face_image="uri://binary_data?index=1"),
    case(PORTRAIT, ("style_image",), style_image="uri://binary_data?index=2", **TWO_B64),
    case(PORTRAIT, ("style_image",), style_image="https://example.com/s.png"),
    case(PORTRAIT, ("face_image",), face_image="uri://binary_data?index="),
    case(PORTRAIT, ("face_image",), face_image="uri://binary_data?index=-1"),
    case(PORTRAIT, ("binary_data_base64",), binary_data_base64=[B64] * 3),
    case(PORTRAIT, ("image_urls",), binary_data_base64=None),
    case(PORTRAIT, ("step",), step=0),
    case(PORTRAIT, ("cfg",), cfg=25),
    case(PORTRAIT, ("width",), width=100),
    case(PORTRAIT, ("prompt",), prompt="a girl"),
    case(PORTRAIT_ANIME, ("width",), width=1600),
    case(PORTRAIT_ANIME, ("image_urls",), image_urls=None),
    case(PORTRAIT_ANIME, ("image_urls",), image_urls=[URL, URL_2]),
]


@pytest.mark.parametrize(("req_key", "overrides", "loc"), INVALID)
def test_invalid_request_names_the_field(
    req_key: str, overrides: dict[str, Any], loc: tuple[str | int, ...]
) -> None:
    with pytest.raises(ValidationError) as excinfo:
        parse_request(body(req_key, **overrides))
    errors = excinfo.value.errors()
    assert errors[0]["loc"] == (req_key, *loc), errors


def valid(req_key: str, **overrides: Any) -> Any:
    test_id = f"{req_key}-" + ",".join(f"{k}={str(v)[:12]}" for k, v in overrides.items())
    return pytest.param(req_key, overrides, id=test_id)


VALID = [
    valid("high_aes_ip_v20", width=256, height=768, scale=1, ddim_steps=200),
    valid("high_aes_ip_v20", binary_data_base64=[B64], image_urls=None),
    valid("high_aes_general_v20", width=680, height=680),
    valid("jimeng_t2i_v30", width=1472, height=1104),
    valid("jimeng_i2i_v30", width=512, height=2016),
    valid("jimeng_i2i_v30", prompt="x" * 800),
    valid("jimeng_t2i_v40", width=1024, height=1024),
    valid("jimeng_t2i_v40", width=4096, height=4096),
    valid("jimeng_t2i_v40", width=3024, height=1296),
    valid("jimeng_t2i_v40", width=1296, height=3024, min_ratio=1 / 16),
    valid("jimeng_t2i_v40", size=1024 * 1024, scale=0, image_urls=[URL] * 10),
    valid("jimeng_t2i_v40", min_ratio=1 / 16, max_ratio=15.99),
    valid("jimeng_seedream46_cvtob", width=6197, height=2656, max_ratio=16),
    valid("jimeng_seedream46_cvtob", scale=1, size=4096 * 4096),
    valid("jimeng_image2image_dream_inpaint", prompt="删" * 120, seed=-1),
    valid("byteedit_v2.0", scale=0, negative_prompt=""),
    valid(CTRL, controlnet_args=[CN, {**CN, "type": "canny"}]),
    valid("i2i_xl_sft", image_urls=[URL, URL_2], style_reference_args={"binary_data_index": 1}),
    valid("i2i_xl_sft", controlnet_args=[{"type": "pose", "strength": 0}]),
    valid("high_aes_i2i", prompt="x" * 100, strength=0, scale=30, ddim_steps=1),
    valid("high_aes", binary_data_base64=[B64]),
    valid(PORTRAIT, face_image="uri://binary_data?index=0"),
    valid(
        PORTRAIT,
        face_image="uri://binary_data?index=1",
        style_image="uri://binary_data?index=0",
        binary_data_base64=None,
        image_urls=[URL, URL_2],
    ),
    valid(PORTRAIT_ANIME, width=1536, height=256),
]


@pytest.mark.parametrize(("req_key", "overrides"), VALID)
def test_boundary_values_accepted(req_key: str, overrides: dict[str, Any]) -> None:
    request = parse_request(body(req_key, **overrides))
    for name, value in overrides.items():
        if isinstance(value, (int, float, str)):
            assert getattr(request, name) == value


def test_fixed_values_default_and_are_sent() -> None:
    sent = parse_request(body("high_aes_general_v20_L")).to_body()
    assert sent["model_version"] == "general_v2.0_L"
    assert sent["req_schedule_conf"] == "general_v20_9B_rephraser"
    assert parse_request(body("high_aes")).to_body()["model_version"] == "anime_v1.3"
    assert parse_request(body("high_aes_general_v20")).to_body()["model_version"] == "general_v2.0"


def test_jimeng_40_defaults_match_the_official_table() -> None:
    request = parse_request(body("jimeng_t2i_v40"))
    assert isinstance(request, JimengT2IV40)
    assert request.size == 2048 * 2048
    assert request.scale == 0.5
    assert request.force_single is False
    assert request.min_ratio == pytest.approx(1 / 3)
    assert request.max_ratio == 3
    assert request.width is None and request.height is None
    assert "width" not in request.to_body()


def test_jimeng_46_scale_is_an_int() -> None:
    request = parse_request(body("jimeng_seedream46_cvtob"))
    assert isinstance(request, JimengSeedream46Cvtob)
    assert request.scale == 50
    assert isinstance(request.to_body()["scale"], int)


def test_nested_args_are_frozen_and_strict() -> None:
    arg = ControlNetArg(type="canny", strength=0.4)
    assert arg.binary_data_index == 0
    with pytest.raises(ValidationError):
        arg.strength = 0.5  # type: ignore[misc]
    style = StyleReferenceArgs()
    assert (style.id_weight, style.style_weight, style.binary_data_index) == (0.2, 0.0, 0)
    with pytest.raises(ValidationError) as excinfo:
        StyleReferenceArgs.model_validate({"face_weight": 1})
    assert excinfo.value.errors()[0]["type"] == "extra_forbidden"


def test_cross_field_error_message_is_readable() -> None:
    with pytest.raises(ValidationError) as excinfo:
        parse_request(body("jimeng_t2i_v40", width=2048))
    error = excinfo.value.errors()[0]
    assert error["msg"] == "width and height must be given together (or neither)"
    with pytest.raises(ValidationError) as excinfo:
        parse_request(body(PORTRAIT, face_image="uri://binary_data?index=3"))
    assert "refers to input image 3 but only 1 image(s) are given" in str(excinfo.value)
