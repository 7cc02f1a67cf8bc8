"""Request models: behaviour shared by every req_key (parsing, images, identity)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from pydantic import ValidationError

from prefect_haoee.client.requests import (
    REQUEST_CLASSES,
    HighAesGeneralV21L,
    HighAesIpV20,
    parse_request,
)
from tests.client.test_requests_examples import ALL_KEYS, B64, URL, body, parse
from tests.support import SEED_EXAMPLE

IMAGE_KEYS = [k for k in ALL_KEYS if REQUEST_CLASSES[k].max_images > 0]
NO_IMAGE_KEYS = [k for k in ALL_KEYS if REQUEST_CLASSES[k].max_images == 0]
NEEDS_IMAGE_KEYS = [k for k in ALL_KEYS if REQUEST_CLASSES[k].min_images > 0]
SEED_KEYS = [k for k in ALL_KEYS if "seed" in REQUEST_CLASSES[k].model_fields]
PROMPT_FIELD = {
    k: name
    for k in ALL_KEYS
    for name in ("prompt", "custom_prompt")
    if name in REQUEST_CLASSES[k].model_fields
    and REQUEST_CLASSES[k].model_fields[name].is_required()
}
# Longest accepted prompt per model (documented where the model docstring says so).
PROMPT_LIMITS = {
    "jimeng_t2i_v40": 800,
    "jimeng_seedream46_cvtob": 800,
    "jimeng_i2i_v30": 800,
    "jimeng_image2image_dream_inpaint": 120,
    "high_aes_i2i": 100,
}


def error_of(excinfo: pytest.ExceptionInfo[ValidationError]) -> dict[str, Any]:
    errors = excinfo.value.errors()
    assert errors, "no error reported"
    return dict(errors[0])


def images(req_key: str, count: int, kind: str = "url") -> dict[str, Any]:
    """Image fields for ``count`` inputs, as URLs or (for base64-only models) base64."""
    if kind == "b64" or REQUEST_CLASSES[req_key].base64_only:
        return {"binary_data_base64": [B64] * count, "image_urls": None}
    return {"image_urls": [URL] * count, "binary_data_base64": None}


def strip_image_refs(data: dict[str, Any]) -> dict[str, Any]:
    """Drop fields that point at image indexes (they would fail for other reasons)."""
    for name in ("face_image", "style_image", "controlnet_args", "style_reference_args"):
        data.pop(name, None)
    return data


# -- the Haoee seed example ------------------------------------------------------------


def test_seed_example_validates_exactly() -> None:
    request = parse_request(SEED_EXAMPLE)
    assert isinstance(request, HighAesIpV20)
    assert request.to_body() == SEED_EXAMPLE
    assert request.image_urls == ["https://xxx"]
    assert request.logo_info is not None and request.logo_info.opacity == 0.3


def test_seed_example_equals_its_defaults() -> None:
    # Every value of the page's example is also our default.
    minimal = parse_request(
        {"req_key": "high_aes_ip_v20", "image_urls": ["https://xxx"], "prompt": "千军万马"}
    )
    full = parse_request({k: v for k, v in SEED_EXAMPLE.items() if k != "logo_info"})
    assert minimal == full
    assert minimal.request_hash == full.request_hash


def test_seed_example_hash_is_pinned() -> None:
    # Guards the canonical form: changing it changes every cache key and S3 object name.
    request = parse_request(SEED_EXAMPLE)
    assert request.canonical_json() == (
        '{"cfg_rescale":0.7,"ddim_steps":9,"desc_pushback":true,"height":512,'
        '"image_urls":["https://xxx"],"logo_info":{"add_logo":false,"language":0,'
        '"logo_text_content":"...","opacity":0.3,"position":0},"prompt":"千军万马",'
        '"ref_id_weight":0.36,"ref_ip_weight":0.7,"req_key":"high_aes_ip_v20","scale":3.5,'
        '"seed":-1,"use_sr":true,"width":512}'
    )
    assert request.request_hash == hashlib.sha256(request.canonical_json().encode()).hexdigest()
    assert request.request_hash == (
        "a535d15b4f8e058f38183f97998f32d219703a401f0e282385035fae2fce2e46"
    )


# -- parsing ----------------------------------------------------------------------------


def test_unknown_req_key_rejected() -> None:
    with pytest.raises(ValidationError) as excinfo:
        parse_request({"req_key": "no_such_model", "prompt": "x"})
    assert error_of(excinfo)["type"] == "union_tag_invalid"


def test_missing_req_key_rejected() -> None:
    with pytest.raises(ValidationError) as excinfo:
        parse_request({"prompt": "x"})
    assert error_of(excinfo)["type"] == "union_tag_not_found"


@pytest.mark.parametrize("req_key", ALL_KEYS)
def test_unknown_field_rejected(req_key: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        parse(req_key, bogus_param=1)
    error = error_of(excinfo)
    assert error["type"] == "extra_forbidden"
    assert error["loc"] == (req_key, "bogus_param")


@pytest.mark.parametrize("req_key", sorted(PROMPT_FIELD))
def test_missing_prompt_rejected(req_key: str) -> None:
    data = body(req_key)
    del data[PROMPT_FIELD[req_key]]
    with pytest.raises(ValidationError) as excinfo:
        parse_request(data)
    error = error_of(excinfo)
    assert error["type"] == "missing"
    assert error["loc"] == (req_key, PROMPT_FIELD[req_key])


@pytest.mark.parametrize("req_key", sorted(PROMPT_FIELD))
def test_empty_prompt_rejected(req_key: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        parse(req_key, **{PROMPT_FIELD[req_key]: ""})
    assert error_of(excinfo)["loc"] == (req_key, PROMPT_FIELD[req_key])


@pytest.mark.parametrize("req_key", sorted(PROMPT_FIELD))
def test_prompt_length_limit(req_key: str) -> None:
    field = PROMPT_FIELD[req_key]
    limit = PROMPT_LIMITS.get(req_key, 800)
    assert parse(req_key, **{field: "字" * limit})
    with pytest.raises(ValidationError) as excinfo:
        parse(req_key, **{field: "字" * (limit + 1)})
    assert error_of(excinfo)["loc"] == (req_key, field)


def test_prompt_max_chars_class_vars() -> None:
    for req_key, limit in PROMPT_LIMITS.items():
        assert REQUEST_CLASSES[req_key].prompt_max_chars == limit


# -- images ----------------------------------------------------------------------------


@pytest.mark.parametrize("req_key", IMAGE_KEYS)
def test_too_many_images_rejected(req_key: str) -> None:
    cls = REQUEST_CLASSES[req_key]
    data = strip_image_refs(body(req_key, **images(req_key, cls.max_images + 1)))
    with pytest.raises(ValidationError) as excinfo:
        parse_request(data)
    error = error_of(excinfo)
    assert error["loc"][0] == req_key
    assert error["loc"][1] in ("image_urls", "binary_data_base64")
    assert "input image" in error["msg"]


@pytest.mark.parametrize("req_key", IMAGE_KEYS)
def test_most_images_accepted(req_key: str) -> None:
    cls = REQUEST_CLASSES[req_key]
    assert parse_request(strip_image_refs(body(req_key, **images(req_key, cls.max_images))))


@pytest.mark.parametrize("req_key", NEEDS_IMAGE_KEYS)
def test_too_few_images_rejected(req_key: str) -> None:
    cls = REQUEST_CLASSES[req_key]
    data = strip_image_refs(body(req_key, **images(req_key, cls.min_images - 1)))
    with pytest.raises(ValidationError) as excinfo:
        parse_request(data)
    assert error_of(excinfo)["loc"][1] in ("image_urls", "binary_data_base64")


@pytest.mark.parametrize("req_key", NO_IMAGE_KEYS)
def test_image_rejected_by_text_only_models(req_key: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        parse(req_key, image_urls=[URL])
    error = error_of(excinfo)
    assert error["loc"] == (req_key, "image_urls")
    assert "takes no input image" in error["msg"]


B64_KEYS = [
    k
    for k in IMAGE_KEYS
    if k not in ("jimeng_t2i_v40", "jimeng_seedream46_cvtob")  # image_urls only
]
URL_KEYS = [k for k in IMAGE_KEYS if not REQUEST_CLASSES[k].base64_only]


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param("data:image/png;base64," + B64, id="data-prefix"),
        pytest.param("not base64!", id="not-base64"),
        pytest.param("https://example.com/a.png", id="url-as-base64"),
        pytest.param("", id="empty"),
    ],
)
@pytest.mark.parametrize("req_key", B64_KEYS)
def test_bad_base64_rejected(req_key: str, bad: str) -> None:
    count = REQUEST_CLASSES[req_key].min_images or 1
    data = strip_image_refs(body(req_key, **images(req_key, count, "b64")))
    data["binary_data_base64"][-1] = bad
    with pytest.raises(ValidationError) as excinfo:
        parse_request(data)
    error = error_of(excinfo)
    assert error["loc"] == (req_key, "binary_data_base64")
    assert f"item {count - 1}" in error["msg"]


@pytest.mark.parametrize(
    "bad", ["ftp://example.com/a.png", "example.com/a.png", "/tmp/a.png", "file:///a.png"]
)
@pytest.mark.parametrize("req_key", URL_KEYS)
def test_non_http_url_rejected(req_key: str, bad: str) -> None:
    count = REQUEST_CLASSES[req_key].min_images or 1
    data = strip_image_refs(body(req_key, **images(req_key, count)))
    data["image_urls"][0] = bad
    with pytest.raises(ValidationError) as excinfo:
        parse_request(data)
    assert error_of(excinfo)["loc"] == (req_key, "image_urls")


def test_http_url_accepted() -> None:
    assert parse("byteedit_v2.0", image_urls=["http://example.com/a.png"])


def test_base64_wins_over_urls_when_both_given() -> None:
    # One base64 image and two URLs: counted as one image, which is what ip_v20 takes.
    request = parse("high_aes_ip_v20", binary_data_base64=[B64], image_urls=[URL, URL])
    assert request.binary_data_base64 == [B64]


def test_base64_only_model_rejects_urls() -> None:
    with pytest.raises(ValidationError) as excinfo:
        parse("high_aes_i2i", binary_data_base64=None, image_urls=[URL])
    error = error_of(excinfo)
    assert error["loc"] == ("high_aes_i2i", "image_urls")
    assert "binary_data_base64 only" in error["msg"]


def test_repr_hides_base64_payload() -> None:
    text = repr(parse("high_aes_i2i"))
    assert B64 not in text
    assert "<1 image(s)>" in text


# -- identity ----------------------------------------------------------------------------


@pytest.mark.parametrize("req_key", ALL_KEYS)
def test_request_hash_is_stable(req_key: str) -> None:
    first = parse(req_key, "full")
    again = parse_request(json.loads(json.dumps(body(req_key, "full"))))
    reordered = parse_request(dict(reversed(list(body(req_key, "full").items()))))
    assert first.request_hash == again.request_hash == reordered.request_hash
    assert len(first.request_hash) == 64
    assert first.request_hash != parse(req_key).request_hash


@pytest.mark.parametrize("req_key", ALL_KEYS)
def test_request_hash_ignores_return_url(req_key: str) -> None:
    assert parse(req_key, return_url=True).request_hash == (
        parse(req_key, return_url=False).request_hash
    )


@pytest.mark.parametrize("req_key", ALL_KEYS)
def test_explicit_defaults_hash_like_omitted_ones(req_key: str) -> None:
    cls = REQUEST_CLASSES[req_key]
    omitted = parse(req_key)
    defaults = {
        name: field.get_default(call_default_factory=True)
        for name, field in cls.model_fields.items()
        if not field.is_required() and name != "req_key"
    }
    explicit = {**defaults, **body(req_key)}
    explicit_request = parse_request(explicit)
    assert explicit_request == omitted
    assert explicit_request.request_hash == omitted.request_hash


def test_hash_changes_with_image_and_logo() -> None:
    base = parse("byteedit_v2.0")
    assert base.request_hash != parse("byteedit_v2.0", image_urls=[URL + "?v=2"]).request_hash
    logo = {"add_logo": True}
    assert base.request_hash != parse("byteedit_v2.0", logo_info=logo).request_hash


@pytest.mark.parametrize("req_key", SEED_KEYS)
def test_seed_minus_one_is_not_deterministic(req_key: str) -> None:
    assert not parse(req_key, seed=-1).is_deterministic
    assert parse(req_key, seed=-1).seed_value == -1


@pytest.mark.parametrize("req_key", [k for k in SEED_KEYS if k != "high_aes_general_v21_L"])
def test_fixed_seed_is_deterministic(req_key: str) -> None:
    request = parse(req_key, seed=42)
    assert request.is_deterministic
    assert request.seed_value == 42


@pytest.mark.parametrize(
    "req_key", [k for k in ALL_KEYS if "seed" not in REQUEST_CLASSES[k].model_fields]
)
def test_models_without_seed_are_deterministic(req_key: str) -> None:
    request = parse(req_key)
    assert request.seed_value is None
    assert request.is_deterministic
    with pytest.raises(ValueError, match="no seed"):
        request.with_seed(1)


def test_inpaint_default_seed_is_fixed() -> None:
    request = parse("jimeng_image2image_dream_inpaint")
    assert request.seed_value == 101
    assert request.is_deterministic


@pytest.mark.parametrize(
    ("overrides", "deterministic"),
    [
        ({"seed": 1}, False),  # llm_seed and sr_seed still random
        ({"seed": 1, "llm_seed": 2}, False),
        ({"seed": 1, "llm_seed": 2, "sr_seed": 3}, True),
        ({"seed": 1, "use_pre_llm": False, "use_sr": False}, True),
        ({"seed": -1, "llm_seed": 2, "sr_seed": 3}, False),
    ],
)
def test_v21_determinism_needs_every_seed(overrides: dict[str, Any], deterministic: bool) -> None:
    request = parse("high_aes_general_v21_L", **overrides)
    assert isinstance(request, HighAesGeneralV21L)
    assert request.is_deterministic is deterministic


@pytest.mark.parametrize("req_key", SEED_KEYS)
def test_with_seed_returns_a_revalidated_copy(req_key: str) -> None:
    original = parse(req_key, "full")
    reseeded = original.with_seed(12345)
    assert type(reseeded) is type(original)
    assert reseeded.seed_value == 12345
    assert original.seed_value != 12345
    assert reseeded.request_hash != original.request_hash
    assert reseeded.model_dump(exclude={"seed"}) == original.model_dump(exclude={"seed"})


def test_with_seed_revalidates() -> None:
    with pytest.raises(ValidationError) as excinfo:
        parse("high_aes_ip_v20").with_seed(-5)
    assert error_of(excinfo)["loc"] == ("seed",)


def test_requests_are_frozen() -> None:
    request = parse("high_aes_ip_v20")
    with pytest.raises(ValidationError):
        request.seed = 3  # type: ignore[misc]
