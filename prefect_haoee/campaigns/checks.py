"""Value rules of a campaign file, each raising ``ValueError`` with a message a user can act on.

Used by the pydantic models in :mod:`prefect_haoee.campaigns.spec`; no Prefect here (floor 2
imports only ``prefect_haoee.client``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from difflib import get_close_matches
from string import Formatter
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from prefect_haoee.campaigns.errors import close_matches, located_error
from prefect_haoee.campaigns.limits import MAX_INLINE_IMAGE_BYTES, MAX_INLINE_IMAGE_CHARS
from prefect_haoee.campaigns.models import EXAMPLES, resolve_model
from prefect_haoee.client.catalog import CATALOG, Mode

if TYPE_CHECKING:
    from prefect_haoee.campaigns.spec import PromptSpec

NAME_RE = re.compile(r"^[a-z0-9-]{1,63}$")
PROMPT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
IP_RE = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")

PREFIX_PLACEHOLDERS: frozenset[str] = frozenset({"name", "date", "prompt_id", "variant"})
SALT_PLACEHOLDERS: frozenset[str] = frozenset({"date"})

# Keys that ``params`` may not set: each has its own place in the campaign file.
RESERVED_PARAMS: dict[str, str] = {
    "req_key": "choose the model with 'model'",
    "seed": "set seeds with 'seed' on a prompt (variants get seed, seed+1, ...)",
    "prompt": "write the text in the prompt's 'prompt'",
    "positive_prompt": "write the text in the prompt's 'prompt' (it goes to positive_prompt)",
    "custom_prompt": "write the text in the prompt's 'prompt' (it goes to custom_prompt)",
    "image_urls": "give input images on the prompt ('image_urls')",
    "binary_data_base64": "give input images on the prompt ('binary_data_base64')",
    "image_digests": "reference images are identified by content ('images')",
}

_CRON_FIELDS: tuple[tuple[str, int, int], ...] = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
)
_CRON_NAMES: dict[int, tuple[str, ...]] = {
    3: ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
    4: ("sun", "mon", "tue", "wed", "thu", "fri", "sat"),
}
_CRON_PART = re.compile(r"^(\*|[0-9a-z]+(?:-[0-9a-z]+)?)(?:/([0-9]+))?$")


def check_name(value: str) -> str:
    if not NAME_RE.match(value):
        raise ValueError(
            f"campaign name must be 1-63 characters of a-z, 0-9 and '-', got {value!r}"
        )
    return value


MAX_IMAGES_PER_PROMPT = 16
MAX_SOURCE_CHARS = 2048


def check_images(value: list[str]) -> list[str]:
    """``images:`` entries: at most 16, each a non-empty text (read and checked later)."""
    if len(value) > MAX_IMAGES_PER_PROMPT:
        raise ValueError(f"at most {MAX_IMAGES_PER_PROMPT} images, got {len(value)}")
    bad = [
        ((i,), "empty image entry" if not v.strip() else f"at most {MAX_SOURCE_CHARS} chars")
        for i, v in enumerate(value)
        if not v.strip() or len(v) > MAX_SOURCE_CHARS
    ]
    if bad:
        raise located_error("images", bad)
    return value


def check_prompt_id(value: str) -> str:
    if not PROMPT_ID_RE.match(value):
        raise ValueError(
            "prompt id must be 1-64 characters of A-Z, a-z, 0-9, '_' and '-', "
            f"got {short_repr(value)}"
        )
    return value


def short_repr(value: str, limit: int = 70) -> str:
    """``repr(value)``, cut to about ``limit`` characters (file text is never echoed whole)."""
    return repr(value) if len(value) <= limit else repr(value[: limit - 1] + "…")


def check_key_prefix(value: str, what: str) -> str:
    """An S3 key prefix that stays under the bucket root: no leading ``/``, no empty, ``.``
    or ``..`` segment (one trailing ``/`` is allowed), no control character. Checked on the
    template and on every rendered prefix."""
    if _CONTROL.search(value):
        raise ValueError(f"{what} {short_repr(value)} has a control character")
    if value.startswith("/"):
        raise ValueError(f"{what} {short_repr(value)} has a leading '/': keys are relative")
    for segment in value.removesuffix("/").split("/"):
        if segment in (".", ".."):
            raise ValueError(
                f"{what} {short_repr(value)} has a {segment!r} segment: keys must stay "
                "under the bucket root and name one place"
            )
        if not segment:
            raise ValueError(f"{what} {short_repr(value)} has an empty segment ('//')")
    return value


def check_inline_images(value: Any) -> Any:
    """Each ``binary_data_base64`` string at most the gateway's documented 4.7 MB per input
    image (by length, before anything is decoded)."""
    if not isinstance(value, list):
        return value
    too_big = [
        ((index,), _inline_image_message(len(item)))
        for index, item in enumerate(value)
        if isinstance(item, str) and len(item) > MAX_INLINE_IMAGE_CHARS
    ]
    if too_big:
        raise located_error("binary_data_base64", too_big)
    return value


def _inline_image_message(chars: int) -> str:
    megabytes = chars * 3 / 4 / 1_000_000
    limit = MAX_INLINE_IMAGE_BYTES / 1_000_000
    return (
        f"an inline image of {chars:,} base64 characters (about {megabytes:.1f} MB) is above "
        f"the gateway's {limit:.1f} MB per input image; give it as image_urls"
    )


def check_bucket(value: str) -> str:
    """S3 bucket naming rules (3-63 characters, lowercase, digits, dots, hyphens)."""
    rule = "S3 bucket names are 3-63 characters of a-z, 0-9, '.' and '-'"
    if not 3 <= len(value) <= 63:
        raise ValueError(f"{rule}; {value!r} has {len(value)}")
    if not BUCKET_RE.match(value):
        raise ValueError(f"{rule}, starting and ending with a letter or digit; got {value!r}")
    if ".." in value or ".-" in value or "-." in value:
        raise ValueError(f"{rule}, with no '..', '.-' or '-.'; got {value!r}")
    if IP_RE.match(value):
        raise ValueError(f"an S3 bucket name must not look like an IP address, got {value!r}")
    return value


def check_template(value: str, allowed: frozenset[str], what: str) -> str:
    """Only ``{placeholder}`` names from ``allowed``; no format specs, no stray braces."""
    names = ", ".join("{" + name + "}" for name in sorted(allowed))
    try:
        parts = list(Formatter().parse(value))
    except ValueError as exc:
        raise ValueError(f"{what} {value!r} is not a valid template ({exc})") from None
    for _text, field, spec, conversion in parts:
        if field is None:
            continue
        if field not in allowed:
            near = get_close_matches(field, sorted(allowed), n=1)
            tail = f"; did you mean {{{near[0]}}}?" if near else ""
            raise ValueError(f"unknown placeholder {{{field}}} in {what} (allowed: {names}){tail}")
        if spec or conversion:
            raise ValueError(f"placeholder {{{field}}} in {what} takes no format spec")
    return value


def check_cron(value: str) -> str:
    """Five fields (minute hour day-of-month month day-of-week), each in its range."""
    fields = value.split()
    if len(fields) != 5:
        raise ValueError(
            f"cron must have 5 fields (minute hour day-of-month month day-of-week), "
            f"got {len(fields)} in {value!r}"
        )
    for index, (field, (label, low, high)) in enumerate(zip(fields, _CRON_FIELDS, strict=True)):
        for part in field.lower().split(","):
            match = _CRON_PART.match(part)
            if not match:
                raise ValueError(f"cron {label} field {field!r} is not valid")
            if match.group(2) is not None and int(match.group(2)) == 0:
                raise ValueError(f"cron {label} field {field!r} has a step of 0")
            if match.group(1) == "*":
                continue
            for bound in match.group(1).split("-"):
                number = _cron_number(bound, _CRON_NAMES.get(index, ()))
                if number is None:
                    raise ValueError(f"cron {label} field {field!r}: {bound!r} is not a value")
                if not low <= number <= high:
                    raise ValueError(
                        f"cron {label} field {field!r}: {bound!r} is outside {low}-{high}"
                    )
    return value


def _cron_number(token: str, names: tuple[str, ...]) -> int | None:
    if token.isdigit():
        return int(token)
    if token in names:
        return names.index(token) + (1 if len(names) == 12 else 0)
    return None


def check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        hint = close_matches(value, _zone_names())
        tail = f"; did you mean {hint}?" if hint else " (use an IANA name like 'Europe/Berlin')"
        raise ValueError(f"unknown time zone {value!r}{tail}") from None
    return value


def _zone_names() -> Iterable[str]:
    from zoneinfo import available_timezones

    return available_timezones()


def check_req_key(value: str) -> str:
    """A Volcengine req_key of the catalog, or a model of another family (video, music,
    OpenAI-style images; see :mod:`prefect_haoee.campaigns.models`)."""
    if resolve_model(value) is None:
        hint = close_matches(value, [*CATALOG, *EXAMPLES], n=4)
        tail = f"; did you mean {hint}?" if hint else " (see prefect_haoee.client.catalog)"
        raise ValueError(f"unknown req_key or model {value!r}{tail}")
    return value


def mode_problem(req_key: str, mode: str) -> str | None:
    """Why ``req_key`` cannot run in ``mode`` (``None`` when it can, or for "auto")."""
    spec = resolve_model(req_key)
    if spec is None or mode == "auto":
        return None
    wanted: Mode = "sync" if mode == "sync" else "async"
    if spec.supports(wanted):
        return None
    modes = ", ".join(spec.modes)
    return f"{req_key} does not support mode {mode!r} (it supports: {modes})"


def check_params(value: dict[str, Any]) -> dict[str, Any]:
    """Reject keys that have their own place in the file (errors located at each key)."""
    bad = [
        ((key,), f"{key!r} cannot be set in params: {RESERVED_PARAMS[key]}")
        for key in value
        if key in RESERVED_PARAMS
    ]
    if bad:
        raise located_error("params", bad)
    return value


def prompt_errors(
    prompts: list[PromptSpec], indexes: list[int], data: Mapping[str, Any]
) -> list[tuple[tuple[str | int, ...], str]]:
    """Cross-prompt rules: unique ids, a model for every prompt, a mode each model serves.

    ``data`` holds the campaign fields validated so far (``model``, ``mode``); rules that
    depend on a field that failed validation are skipped (that field is reported already).
    """
    errors: list[tuple[tuple[str | int, ...], str]] = []
    first: dict[str, int] = {}
    for prompt, index in zip(prompts, indexes, strict=True):
        if prompt.id in first:
            errors.append(
                (
                    (index, "id"),
                    f"duplicate prompt id {prompt.id!r}: prompts[{first[prompt.id]}] and "
                    f"prompts[{index}] both use it",
                )
            )
        else:
            first[prompt.id] = index
        if "model" not in data or "mode" not in data:
            continue
        req_key = prompt.model or data["model"]
        if req_key is None:
            errors.append(((index, "model"), "no model: set 'model' on the campaign or here"))
            continue
        if prompt.mode is not None:
            problem = mode_problem(req_key, prompt.mode)
            if problem:
                errors.append(((index, "mode"), problem))
        elif prompt.model is not None:
            problem = mode_problem(req_key, data["mode"])
            if problem:
                errors.append(((index, "model"), f"{problem}; the campaign's mode applies"))
    return errors
