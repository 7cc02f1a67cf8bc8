"""The simulator's own request checks (independent of the client's request models).

Which req_keys exist, their modes and image counts come from the shared catalog; the
rest (required text field, size ranges, field types) is kept here, from
volcengine-visual.md §5 and §7, so that a client bug is caught rather than mirrored.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from prefect_haoee.client.catalog import ModelSpec
from prefect_haoee.simulator.codes import SimError

# Text field a req_key requires (default "prompt"; None: no text required).
TEXT_FIELD: dict[str, str | None] = {
    "img2img_anime_accelerated_maintain_id": None,
    "img2img_stable_accelerated_maintain_id_usage": None,
    "i2i_inpainting_edit": "custom_prompt",
}
PROMPT_MAX_CHARS: dict[str, int] = {
    "jimeng_image2image_dream_inpaint": 120,
    "jimeng_i2i_v30": 800,
}
REQUIRED_EXTRA: dict[str, tuple[str, ...]] = {
    "high_aes_general_v20": ("model_version",),
    "high_aes_scheduler_svr_controlnet_v2.0": ("model_version",),
    "high_aes": ("model_version",),
}
SIDE_RANGE: dict[str, tuple[int, int]] = {
    "high_aes_ip_v20": (256, 768),
    "high_aes_general_v20_L": (256, 768),
    "high_aes_general_v20": (256, 680),
    "high_aes_general_v21_L": (256, 768),
    "jimeng_i2i_v30": (512, 2016),
}
DEFAULT_SIDE_RANGE = (64, 4096)
AREA_RANGE: dict[str, tuple[int, int]] = {
    "jimeng_t2i_v40": (1024 * 1024, 4096 * 4096),
    "jimeng_seedream46_cvtob": (1024 * 1024, 4096 * 4096),
}
BOTH_OR_NEITHER = frozenset({"jimeng_t2i_v40", "jimeng_seedream46_cvtob", "jimeng_i2i_v30"})
BASE64_ONLY = frozenset({"high_aes_i2i"})
MAX_IMAGE_BYTES = 15 * 1024 * 1024
BOOL_FIELDS = ("return_url", "use_sr", "use_pre_llm", "desc_pushback", "force_single")
NUMBER_FIELDS = ("scale", "cfg_rescale", "ref_ip_weight", "ref_id_weight", "strength")
TEXT_FIELDS = ("prompt", "custom_prompt", "positive_prompt", "negative_prompt")
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"BM", b"GIF8", b"RIFF")


@dataclass(frozen=True)
class Checked:
    spec: ModelSpec
    body: dict[str, Any]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse_json_object(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        raise SimError(50201, "empty request body")
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SimError(50200, f"body is not valid JSON ({exc.__class__.__name__})") from None
    if not isinstance(body, dict):
        raise SimError(50200, "body must be a JSON object")
    return body


def lookup_spec(body: dict[str, Any], catalog: Mapping[str, ModelSpec]) -> ModelSpec:
    req_key = body.get("req_key")
    if req_key is None:
        raise SimError(50201, "req_key is required")
    if not isinstance(req_key, str):
        raise SimError(50204, "req_key must be a string")
    spec = catalog.get(req_key)
    if spec is None:
        raise SimError(50200, f"unknown req_key {req_key!r}")
    return spec


def _check_images(body: dict[str, Any], spec: ModelSpec) -> None:
    b64 = body.get("binary_data_base64")
    urls = body.get("image_urls")
    if b64 is not None and not (isinstance(b64, list) and all(isinstance(v, str) for v in b64)):
        raise SimError(50204, "binary_data_base64 must be a list of strings")
    if urls is not None and not (isinstance(urls, list) and all(isinstance(v, str) for v in urls)):
        raise SimError(50204, "image_urls must be a list of strings")
    for i, value in enumerate(b64 or []):
        if value.startswith("data:"):
            raise SimError(50207, f"binary_data_base64[{i}] has a data: prefix; send raw base64")
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise SimError(50207, f"binary_data_base64[{i}] is not valid base64") from None
        if len(raw) > MAX_IMAGE_BYTES:
            raise SimError(50205, f"binary_data_base64[{i}] is {len(raw)} bytes")
        if not raw.startswith(_IMAGE_MAGIC):
            raise SimError(50207, f"binary_data_base64[{i}] is not a JPEG/PNG/BMP/GIF/WEBP image")
    for i, value in enumerate(urls or []):
        if not value.startswith(("http://", "https://")):
            raise SimError(50200, f"image_urls[{i}] is not an http(s) URL")
    if spec.req_key in BASE64_ONLY and not b64 and urls:
        raise SimError(50206, f"{spec.req_key} takes images in binary_data_base64 only")
    count = len(b64) if b64 else len(urls or [])
    if count < spec.min_images:
        code = 50206 if count == 0 else 50200
        raise SimError(code, f"{spec.req_key} needs at least {spec.min_images} image(s)")
    if count > spec.max_images:
        if spec.max_images == 0:
            raise SimError(50200, f"{spec.req_key} takes no input image")
        raise SimError(50200, f"{spec.req_key} takes at most {spec.max_images} image(s)")


def _check_text(body: dict[str, Any], req_key: str) -> None:
    for name in TEXT_FIELDS:
        if name in body and not isinstance(body[name], str):
            raise SimError(50204, f"{name} must be a string")
    field = TEXT_FIELD.get(req_key, "prompt")
    if field is not None:
        if field not in body:
            raise SimError(50201, f"{field} is required")
        if not body[field].strip():
            raise SimError(50200, f"{field} must not be empty")
        limit = PROMPT_MAX_CHARS.get(req_key)
        if limit is not None and len(body[field]) > limit:
            raise SimError(50200, f"{field} longer than {limit} characters")
    for name in REQUIRED_EXTRA.get(req_key, ()):
        if name not in body:
            raise SimError(50201, f"{name} is required")


def _check_size(body: dict[str, Any], req_key: str) -> None:
    width, height, size = body.get("width"), body.get("height"), body.get("size")
    for name, value in (("width", width), ("height", height), ("size", size)):
        if value is not None and not _is_int(value):
            raise SimError(50204, f"{name} must be an integer")
    if req_key in BOTH_OR_NEITHER and (width is None) != (height is None):
        raise SimError(50200, "width and height must be given together")
    if req_key in AREA_RANGE:
        lo, hi = AREA_RANGE[req_key]
        area = width * height if width is not None and height is not None else size
        if area is not None and not lo <= area <= hi:
            raise SimError(50200, f"image area {area} outside [{lo}, {hi}]")
        return
    lo, hi = SIDE_RANGE.get(req_key, DEFAULT_SIDE_RANGE)
    for name, value in (("width", width), ("height", height)):
        if value is not None and not lo <= value <= hi:
            raise SimError(50200, f"{name} {value} outside [{lo}, {hi}]")


def _check_types(body: dict[str, Any]) -> None:
    seed = body.get("seed")
    if seed is not None:
        if not _is_int(seed):
            raise SimError(50204, "seed must be an integer")
        if seed < -1:
            raise SimError(50200, "seed must be -1 (random) or >= 0")
    for name in BOOL_FIELDS:
        if name in body and not isinstance(body[name], bool):
            raise SimError(50204, f"{name} must be a boolean")
    for name in NUMBER_FIELDS:
        if name in body and not _is_number(body[name]):
            raise SimError(50204, f"{name} must be a number")
    if "logo_info" in body and not isinstance(body["logo_info"], dict):
        raise SimError(50204, "logo_info must be an object")


def check_generation(
    body: dict[str, Any],
    catalog: Mapping[str, ModelSpec],
    *,
    mode: str,
    strict_modes: bool,
) -> Checked:
    """Check a CVProcess (``mode="sync"``) or submit (``mode="async"``) body."""
    spec = lookup_spec(body, catalog)
    if strict_modes and mode not in spec.modes:
        other = "CVSync2AsyncSubmitTask" if mode == "sync" else "CVProcess"
        raise SimError(50200, f"{spec.req_key} is not served {mode}; use {other}")
    _check_types(body)
    _check_text(body, spec.req_key)
    _check_images(body, spec)
    _check_size(body, spec.req_key)
    return Checked(spec, body)


def check_moderation(body: dict[str, Any], words: Mapping[str, int]) -> None:
    """Refuse a body whose text (or an image URL) holds a configured word."""
    if not words:
        return
    texts = [body[n].lower() for n in TEXT_FIELDS if isinstance(body.get(n), str)]
    urls = body.get("image_urls")
    if isinstance(urls, list):
        texts.extend(u.lower() for u in urls if isinstance(u, str))
    for word, code in words.items():
        if any(word.lower() in t for t in texts):
            raise SimError(code)


@dataclass(frozen=True)
class PollRequest:
    spec: ModelSpec
    task_id: str
    return_url: bool


def check_poll(body: dict[str, Any], catalog: Mapping[str, ModelSpec]) -> PollRequest:
    spec = lookup_spec(body, catalog)
    task_id = body.get("task_id")
    if task_id is None:
        raise SimError(50201, "task_id is required")
    if not isinstance(task_id, str):
        raise SimError(50204, "task_id must be a string")
    return_url = False
    req_json = body.get("req_json")
    if req_json is not None:
        if not isinstance(req_json, str):
            raise SimError(50204, "req_json must be a JSON-encoded string, not an object")
        try:
            options = json.loads(req_json) if req_json.strip() else {}
        except json.JSONDecodeError:
            raise SimError(50200, "req_json is not valid JSON") from None
        if not isinstance(options, dict):
            raise SimError(50200, "req_json must encode a JSON object")
        value = options.get("return_url", False)
        if not isinstance(value, bool):
            raise SimError(50204, "req_json.return_url must be a boolean")
        if "logo_info" in options and not isinstance(options["logo_info"], dict):
            raise SimError(50204, "req_json.logo_info must be an object")
        return_url = value
    return PollRequest(spec, task_id, return_url)
