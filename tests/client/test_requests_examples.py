"""A minimal and a full valid body for every req_key (imported by the other
``test_requests_*`` modules), and the tests that they parse."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from prefect_haoee.client.requests import REQUEST_CLASSES, VisualRequest, parse_request

B64 = "ZmFrZS1pbWFnZS1ieXRlcw=="  # base64 of b"fake-image-bytes"
B64_2 = "bWFzay1ieXRlcw=="  # base64 of b"mask-bytes"
URL = "https://example.com/in.png"
URL_2 = "https://example.com/style.png"
LOGO = {
    "add_logo": True,
    "position": 2,
    "language": 1,
    "opacity": 0.8,
    "logo_text_content": "demo",
}

MINIMAL: dict[str, dict[str, Any]] = {
    "high_aes_ip_v20": {"prompt": "千军万马", "image_urls": [URL]},
    "high_aes_general_v20_L": {"prompt": "a cat"},
    "high_aes_general_v20": {"prompt": "a cat"},
    "high_aes_general_v21_L": {"prompt": "a cat"},
    "high_aes_general_v14": {"prompt": "a cat"},
    "high_aes_general_v30l_zt2i": {"prompt": "a cat"},
    "jimeng_high_aes_general_v21_L": {"prompt": "a cat"},
    "jimeng_t2i_v30": {"prompt": "a cat"},
    "jimeng_t2i_v31": {"prompt": "a cat"},
    "jimeng_i2i_v30": {"prompt": "make it snow", "image_urls": [URL]},
    "jimeng_t2i_v40": {"prompt": "a cat"},
    "jimeng_seedream46_cvtob": {"prompt": "千军万马"},
    "jimeng_image2image_dream_inpaint": {"prompt": "删除", "binary_data_base64": [B64, B64_2]},
    "byteedit_v2.0": {"prompt": "make it night", "image_urls": [URL]},
    "seededit_v3.0": {"prompt": "make it night", "binary_data_base64": [B64]},
    "i2i_inpainting_edit": {"custom_prompt": "a red car", "image_urls": [URL, URL_2]},
    "high_aes_scheduler_svr_controlnet_v2.0": {"prompt": "a house", "image_urls": [URL]},
    "i2i_xl_sft": {"prompt": "watercolor", "image_urls": [URL]},
    "t2i_xl_sft": {"prompt": "a cat"},
    "high_aes_i2i": {"prompt": "oil painting", "binary_data_base64": [B64]},
    "high_aes": {"prompt": "anime girl"},
    "img2img_anime_accelerated_maintain_id": {"binary_data_base64": [B64]},
    "img2img_stable_accelerated_maintain_id_usage": {"image_urls": [URL]},
}

FULL: dict[str, dict[str, Any]] = {
    "high_aes_ip_v20": {
        "prompt": "千军万马",
        "binary_data_base64": [B64],
        "desc_pushback": False,
        "seed": 7,
        "scale": 4.0,
        "ddim_steps": 12,
        "width": 640,
        "height": 384,
        "cfg_rescale": 0.5,
        "ref_ip_weight": 0.6,
        "ref_id_weight": 0.3,
        "use_sr": False,
        "return_url": False,
        "logo_info": LOGO,
    },
    "high_aes_general_v20_L": {
        "prompt": "a cat",
        "model_version": "general_v2.0_L",
        "req_schedule_conf": "general_v20_9B_rephraser",
        "seed": 1,
        "scale": 4.5,
        "ddim_steps": 20,
        "width": 768,
        "height": 256,
        "use_sr": True,
        "use_pre_llm": False,
        "return_url": True,
        "logo_info": LOGO,
    },
    "high_aes_general_v20": {
        "prompt": "a cat",
        "model_version": "general_v2.0",
        "seed": 2,
        "scale": 3.0,
        "ddim_steps": 30,
        "width": 680,
        "height": 256,
        "use_sr": True,
        "return_url": True,
        "logo_info": LOGO,
    },
    "high_aes_general_v21_L": {
        "prompt": "a cat",
        "model_version": "general_v2.1_L",
        "req_schedule_conf": "general_v20_9B_pe",
        "llm_seed": 3,
        "seed": 4,
        "scale": 3.5,
        "ddim_steps": 25,
        "width": 768,
        "height": 512,
        "use_pre_llm": True,
        "use_sr": True,
        "sr_seed": 5,
        "sr_strength": 0.4,
        "sr_scale": 3.5,
        "sr_steps": 20,
        "is_only_sr": False,
        "return_url": True,
        "logo_info": LOGO,
    },
    "high_aes_general_v14": {
        "prompt": "a cat",
        "model_version": "general_v1.4",
        "seed": 6,
        "scale": 3.0,
        "ddim_steps": 25,
        "width": 512,
        "height": 768,
        "use_rephraser": False,
        "use_predict_tags": False,
        "return_url": True,
        "logo_info": LOGO,
    },
    "high_aes_general_v30l_zt2i": {
        "prompt": "a cat",
        "seed": 7,
        "scale": 2.5,
        "width": 1472,
        "height": 1104,
        "use_pre_llm": True,
        "return_url": True,
        "logo_info": LOGO,
    },
    "jimeng_high_aes_general_v21_L": {
        "prompt": "a cat",
        "seed": 8,
        "width": 512,
        "height": 768,
        "use_pre_llm": True,
        "use_sr": True,
        "return_url": True,
        "logo_info": LOGO,
    },
    "jimeng_t2i_v30": {
        "prompt": "a cat",
        "seed": 9,
        "width": 2016,
        "height": 864,
        "use_pre_llm": False,
        "return_url": True,
        "logo_info": LOGO,
    },
    "jimeng_t2i_v31": {
        "prompt": "a cat",
        "seed": 10,
        "width": 1104,
        "height": 1472,
        "use_pre_llm": True,
        "return_url": False,
        "logo_info": LOGO,
    },
    "jimeng_i2i_v30": {
        "prompt": "make it snow",
        "binary_data_base64": [B64],
        "seed": 11,
        "scale": 0.7,
        "width": 1328,
        "height": 1328,
        "return_url": True,
        "logo_info": LOGO,
    },
    "jimeng_t2i_v40": {
        "prompt": "背景换成演唱会现场",
        "image_urls": [URL, URL_2],
        "size": 4096 * 4096,
        "width": 2560,
        "height": 1440,
        "scale": 0.55,
        "force_single": True,
        "min_ratio": 0.5,
        "max_ratio": 2.0,
        "return_url": True,
        "logo_info": LOGO,
    },
    "jimeng_seedream46_cvtob": {
        "prompt": "千军万马",
        "image_urls": [URL] * 14,
        "size": 1024 * 1024,
        "width": 4693,
        "height": 3520,
        "scale": 80,
        "force_single": True,
        "min_ratio": 1 / 16,
        "max_ratio": 16.0,
        "return_url": True,
        "logo_info": LOGO,
    },
    "jimeng_image2image_dream_inpaint": {
        "prompt": "把车换成红色",
        "image_urls": [URL, URL_2],
        "seed": 42,
        "return_url": True,
        "logo_info": LOGO,
    },
    "byteedit_v2.0": {
        "prompt": "make it night",
        "binary_data_base64": [B64],
        "negative_prompt": "blurry",
        "seed": 12,
        "scale": 0.8,
        "return_url": True,
        "logo_info": LOGO,
    },
    "seededit_v3.0": {
        "prompt": "make it night",
        "image_urls": [URL],
        "seed": 13,
        "scale": 0.3,
        "return_url": True,
        "logo_info": LOGO,
    },
    "i2i_inpainting_edit": {
        "custom_prompt": "a red car",
        "binary_data_base64": [B64, B64_2],
        "seed": 14,
        "scale": 6.0,
        "steps": 30,
        "return_url": True,
        "logo_info": LOGO,
    },
    "high_aes_scheduler_svr_controlnet_v2.0": {
        "prompt": "a house",
        "image_urls": [URL],
        "model_version": "general_controlnet_v2.0",
        "seed": 15,
        "scale": 3.0,
        "ddim_steps": 16,
        "use_rephraser": True,
        "controlnet_args": [{"type": "depth", "binary_data_index": 0, "strength": 0.6}],
        "return_url": True,
        "logo_info": LOGO,
    },
    "i2i_xl_sft": {
        "prompt": "watercolor",
        "image_urls": [URL, URL_2],
        "seed": 16,
        "ddim_steps": 20,
        "scale": 7.0,
        "controlnet_args": [
            {"type": "canny", "strength": 0.4, "binary_data_index": 0},
            {"type": "pose", "strength": 0.5, "binary_data_index": 0},
        ],
        "style_reference_args": {"id_weight": 0.2, "style_weight": 0.5, "binary_data_index": 1},
        "return_url": True,
        "logo_info": LOGO,
    },
    "t2i_xl_sft": {
        "prompt": "a cat",
        "seed": 17,
        "scale": 7.0,
        "ddim_steps": 30,
        "width": 1024,
        "height": 768,
        "return_url": True,
        "logo_info": LOGO,
    },
    "high_aes_i2i": {
        "prompt": "oil painting",
        "binary_data_base64": [B64],
        "strength": 0.6,
        "seed": 18,
        "scale": 8.0,
        "ddim_steps": 30,
        "return_url": False,
        "logo_info": LOGO,
    },
    "high_aes": {
        "prompt": "anime girl",
        "binary_data_base64": [B64],
        "model_version": "anime_v1.3",
        "strength": 0.7,
        "seed": 19,
        "scale": 7.0,
        "ddim_steps": 20,
        "width": 768,
        "height": 1024,
        "return_url": True,
        "logo_info": LOGO,
    },
    "img2img_anime_accelerated_maintain_id": {
        "binary_data_base64": [B64, B64_2],
        "positive_prompt": "1boy,smiling,portrait,",
        "hyper_switch": True,
        "seed": 20,
        "step": 20,
        "cfg": 5.0,
        "face_image": "uri://binary_data?index=0",
        "style_image": "uri://binary_data?index=1",
        "face_switch": True,
        "facestyle_switch": False,
        "style_switch": True,
        "width": 768,
        "height": 1024,
        "return_url": True,
        "logo_info": LOGO,
    },
    "img2img_stable_accelerated_maintain_id_usage": {
        "binary_data_base64": [B64],
        "positive_prompt": "anime style",
        "negative_prompt": "lowres",
        "width": 1280,
        "height": 960,
        "return_url": True,
        "logo_info": LOGO,
    },
}

ALL_KEYS = sorted(REQUEST_CLASSES)


def body(req_key: str, example: str = "minimal", **overrides: Any) -> dict[str, Any]:
    """A fresh copy of an example body for ``req_key`` with ``overrides`` applied."""
    source = MINIMAL if example == "minimal" else FULL
    data = {"req_key": req_key, **copy.deepcopy(source[req_key])}
    data.update(overrides)
    return data


def parse(req_key: str, example: str = "minimal", **overrides: Any) -> VisualRequest:
    return parse_request(body(req_key, example, **overrides))


def test_examples_cover_every_req_key() -> None:
    assert set(MINIMAL) == set(REQUEST_CLASSES)
    assert set(FULL) == set(REQUEST_CLASSES)
    assert len(REQUEST_CLASSES) == 23


@pytest.mark.parametrize("req_key", ALL_KEYS)
def test_minimal_example_parses(req_key: str) -> None:
    request = parse(req_key)
    assert type(request) is REQUEST_CLASSES[req_key]
    assert request.req_key == req_key
    # The body we send parses back to the same request.
    assert parse_request(request.to_body()) == request


@pytest.mark.parametrize("req_key", ALL_KEYS)
def test_full_example_parses_and_sets_every_field(req_key: str) -> None:
    request = parse(req_key, "full")
    assert type(request) is REQUEST_CLASSES[req_key]
    sent = request.to_body()
    for name in FULL[req_key]:
        assert name in sent, name
    # "Full" really is full: every declared field is given (image fields: one of two).
    declared = set(type(request).model_fields) - {
        "req_key",
        "binary_data_base64",
        "image_urls",
        "image_digests",  # not sent: the digests of presigned links, for the hash
    }
    assert declared <= set(FULL[req_key])
    assert parse_request(sent) == request


@pytest.mark.parametrize("req_key", ALL_KEYS)
def test_body_leaves_out_unset_optional_fields(req_key: str) -> None:
    sent = parse(req_key).to_body()
    assert None not in sent.values()
    assert "logo_info" not in sent
