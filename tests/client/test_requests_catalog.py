"""The model catalog agrees with the request models; ``output_size`` rules."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from prefect_haoee.client import catalog
from prefect_haoee.client.catalog import CATALOG, SPECS, get_spec, output_size
from prefect_haoee.client.requests import REQUEST_CLASSES, parse_request
from tests.client.test_requests_examples import ALL_KEYS, body, parse

EXPECTED_MODES = {
    "sync_and_async": {
        "high_aes_general_v20_L",
        "img2img_anime_accelerated_maintain_id",
        "byteedit_v2.0",
        "jimeng_high_aes_general_v21_L",
    },
    "async_only": {
        "high_aes_general_v20",
        "jimeng_t2i_v30",
        "jimeng_t2i_v31",
        "jimeng_i2i_v30",
        "jimeng_t2i_v40",
        "jimeng_seedream46_cvtob",
        "jimeng_image2image_dream_inpaint",
        "seededit_v3.0",
    },
}
# Models whose documented limits were all read on an official page (or verbatim mirror).
OFFICIAL_LIMITS = {
    "jimeng_t2i_v40",
    "jimeng_seedream46_cvtob",
    "jimeng_image2image_dream_inpaint",
    "high_aes_i2i",
}


def test_catalog_and_request_models_cover_the_same_req_keys() -> None:
    assert set(CATALOG) == set(REQUEST_CLASSES)
    assert len(SPECS) == len(CATALOG)  # no req_key listed twice


@pytest.mark.parametrize("req_key", ALL_KEYS)
def test_image_counts_agree_with_the_request_model(req_key: str) -> None:
    spec, cls = get_spec(req_key), REQUEST_CLASSES[req_key]
    assert (spec.min_images, spec.max_images) == (cls.min_images, cls.max_images)


@pytest.mark.parametrize("req_key", ALL_KEYS)
def test_modes(req_key: str) -> None:
    spec = get_spec(req_key)
    if req_key in EXPECTED_MODES["sync_and_async"]:
        assert spec.modes == ("sync", "async")
    elif req_key in EXPECTED_MODES["async_only"]:
        assert spec.modes == ("async",)
    else:
        assert spec.modes == ("sync",)
    assert spec.preferred_mode == spec.modes[0]
    assert spec.supports(spec.preferred_mode)


@pytest.mark.parametrize("req_key", ALL_KEYS)
def test_spec_fields_are_filled(req_key: str) -> None:
    spec = get_spec(req_key)
    assert spec.title and spec.output_rule
    width, height = spec.default_size
    assert width > 0 and height > 0
    assert spec.limits_guessed is (req_key not in OFFICIAL_LIMITS)
    assert spec.doc == "" or spec.doc.count("/") == 1


@pytest.mark.parametrize("req_key", ALL_KEYS)
def test_guessed_limits_are_admitted_in_the_docstring(req_key: str) -> None:
    doc = (REQUEST_CLASSES[req_key].__doc__ or "").lower()
    if get_spec(req_key).limits_guessed:
        assert "guess" in doc
    else:
        assert "official" in doc


def test_unknown_req_key() -> None:
    with pytest.raises(KeyError, match="unknown req_key 'nope'; known: byteedit_v2.0"):
        get_spec("nope")
    with pytest.raises(KeyError):
        output_size({"req_key": "nope"})


def test_catalog_does_not_import_request_models() -> None:
    tree = ast.parse(Path(catalog.__file__).read_text(encoding="utf-8"))
    imported: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            imported.append(node.module or "")
        elif isinstance(node, ast.Import):
            imported.extend(alias.name for alias in node.names)
    assert not [name for name in imported if name.startswith("prefect_haoee")]


# -- output_size --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("req_key", "overrides", "expected"),
    [
        ("high_aes_ip_v20", {}, (1024, 1024)),  # 512 doubled by use_sr (default on)
        ("high_aes_ip_v20", {"use_sr": False, "width": 640, "height": 384}, (640, 384)),
        ("high_aes_general_v20_L", {}, (512, 512)),  # use_sr unset counts as off
        ("high_aes_general_v20_L", {"use_sr": True, "width": 768}, (1536, 1024)),
        ("t2i_xl_sft", {}, (1024, 1024)),
        ("high_aes_general_v20", {"width": 600, "height": 400}, (600, 400)),
        ("high_aes_general_v21_L", {}, (1024, 1024)),
        ("high_aes_general_v30l_zt2i", {}, (1328, 1328)),
        ("jimeng_t2i_v30", {}, (1328, 1328)),
        ("jimeng_t2i_v40", {}, (2048, 2048)),
        ("jimeng_t2i_v40", {"size": 1024 * 1024}, (1024, 1024)),
        ("jimeng_t2i_v40", {"size": 3000 * 3000}, (3000, 3000)),
        ("jimeng_t2i_v40", {"width": 2560, "height": 1440}, (2560, 1440)),
        ("jimeng_seedream46_cvtob", {"width": 4693, "height": 3520}, (4693, 3520)),
        ("byteedit_v2.0", {}, (1024, 1024)),
        ("high_aes_i2i", {}, (512, 512)),
        ("high_aes", {}, (1024, 1024)),
        ("img2img_stable_accelerated_maintain_id_usage", {}, (1000, 1000)),
    ],
)
def test_output_size(req_key: str, overrides: dict[str, Any], expected: tuple[int, int]) -> None:
    assert output_size(parse(req_key, **overrides)) == expected
    # A raw body gives the same answer (the simulator checks bodies itself).
    assert output_size(parse(req_key, **overrides).to_body()) == expected


@pytest.mark.parametrize("req_key", ALL_KEYS)
def test_output_size_defaults_to_the_catalog(req_key: str) -> None:
    request = parse_request(body(req_key))
    width, height = output_size(request)
    default_w, default_h = get_spec(req_key).default_size
    factor = 2 if getattr(request, "use_sr", None) is True else 1
    if getattr(request, "width", None) is None and getattr(request, "size", None) is None:
        assert (width, height) == (default_w * factor, default_h * factor)
    assert width > 0 and height > 0
