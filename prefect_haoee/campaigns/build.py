"""One prompt x variant -> one validated request model, with seeds and located problems.

Seeds (DESIGN.md "Seeds are explicit"):

- no ``seed`` on the prompt: a deterministic seed per variant, ::

      int(sha256(f"{campaign}:{prompt_id}:{variant}:{salt}").hexdigest(), 16) % (2**31 - 1)

  where ``salt`` is ``seed_salt`` with ``{date}`` replaced by the run date (``YYYY-MM-DD``).
  The default salt ``""`` gives the same seeds on every run (a rerun pays nothing); a salt
  of ``"{date}"`` gives new seeds, hence new images, each day.
- ``seed: N`` (N >= 0): variant ``i`` gets ``N + i``.
- ``seed: -1``: random; every variant asks for a random seed and is never cached.

Models with secondary seeds (``llm_seed``, ``sr_seed`` of 通用2.1) get the item's seed there
too unless ``params`` set them, so that their requests are deterministic as well.
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

from pydantic import ValidationError

from prefect_haoee.campaigns.errors import Problem, close_matches, error_message, format_loc
from prefect_haoee.campaigns.family_build import build_family_request, family_prompt_problems
from prefect_haoee.campaigns.models import resolve_model
from prefect_haoee.campaigns.reference_build import images_at, reference_wire
from prefect_haoee.campaigns.references import Reference, ReferenceReader
from prefect_haoee.campaigns.spec import MAX_SEED, Campaign, PromptSpec
from prefect_haoee.client.families import FamilyRequest
from prefect_haoee.client.requests import REQUEST_CLASSES, VisualRequest, parse_request

SEED_MODULUS = 2**31 - 1
PROMPT_FIELDS = ("prompt", "positive_prompt", "custom_prompt")
EXTRA_SEED_FIELDS = ("llm_seed", "sr_seed")
IMAGE_FIELDS = ("image_urls", "binary_data_base64", "image_digests")

Loc = tuple[str | int, ...]


def derive_seed(campaign: str, prompt_id: str, variant: int, salt: str = "") -> int:
    """The deterministic seed of one variant (see the module docstring)."""
    text = f"{campaign}:{prompt_id}:{variant}:{salt}"
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest(), 16) % SEED_MODULUS


def render_salt(seed_salt: str, run_date: date) -> str:
    return seed_salt.format(date=run_date.isoformat())


def item_seed(campaign: Campaign, prompt: PromptSpec, variant: int, run_date: date) -> int:
    """The seed of ``prompt``'s variant ``variant`` on ``run_date``."""
    if prompt.seed is None:
        salt = render_salt(campaign.seed_salt, run_date)
        return derive_seed(campaign.name, prompt.id, variant, salt)
    if prompt.seed == -1:
        return -1
    return prompt.seed + variant


def prompt_field(cls: type[VisualRequest]) -> str | None:
    """The field that takes a prompt's text (``prompt``, ``positive_prompt``, ...)."""
    return next((name for name in PROMPT_FIELDS if name in cls.model_fields), None)


def prompt_problems(campaign: Campaign, index: int, prompt: PromptSpec) -> list[Problem]:
    """Rules of a prompt that do not depend on the variant (seeds and the model's fields)."""
    req_key = campaign.req_key_for(prompt)
    model_at = campaign.locate(index, ("model",)) if prompt.model else _top(campaign, "model")
    info = resolve_model(req_key)
    if info is not None and prompt.kind is not None and prompt.kind != info.kind:
        at = campaign.locate(index, ("kind",))
        return [Problem(*at, f"kind {prompt.kind!r} but {req_key} makes {info.kind}")]
    if info is not None and info.family != "visual":
        return family_prompt_problems(campaign, index, prompt, info)
    cls = REQUEST_CLASSES.get(req_key)
    if cls is None:
        return [Problem(*model_at, f"no request model for req_key {req_key!r}")]
    problems = []
    if prompt_field(cls) is None:
        problems.append(Problem(*model_at, f"{req_key} has no prompt field to put the text in"))
    variants = campaign.variants_for(prompt)
    variants_at = (
        campaign.locate(index, ("variants",)) if prompt.variants else _top(campaign, "variants")
    )
    if "seed" not in cls.model_fields:
        if prompt.seed is not None:
            at = campaign.locate(index, ("seed",))
            problems.append(Problem(*at, f"{req_key} has no seed parameter"))
        if variants > 1:
            problems.append(
                Problem(
                    *variants_at,
                    f"{req_key} has no seed parameter, so its {variants} variants of "
                    f"prompt {prompt.id!r} would be the same request; use variants: 1",
                )
            )
    elif prompt.seed is not None and prompt.seed >= 0 and prompt.seed + variants - 1 > MAX_SEED:
        at = campaign.locate(index, ("seed",))
        problems.append(Problem(*at, f"seed + variants - 1 must stay <= {MAX_SEED}"))
    return problems


def request_body(
    campaign: Campaign, prompt: PromptSpec, seed: int, images: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The raw body of one item: campaign params, overlaid by prompt params, then the text,
    the images and the seed(s). Merging is shallow (a nested value replaces the whole one)."""
    req_key = campaign.req_key_for(prompt)
    cls = REQUEST_CLASSES[req_key]
    body: dict[str, Any] = {**campaign.params, **prompt.params, "req_key": req_key}
    field = prompt_field(cls)
    if field is not None:
        body[field] = prompt.prompt
    if prompt.image_urls is not None:
        body["image_urls"] = list(prompt.image_urls)
    if prompt.binary_data_base64 is not None:
        body["binary_data_base64"] = list(prompt.binary_data_base64)
    body.update(images or {})
    if "seed" in cls.model_fields:
        body["seed"] = seed
        if seed != -1:
            for name in EXTRA_SEED_FIELDS:
                if name in cls.model_fields and name not in body:
                    body[name] = seed
    return body


def build_request(
    campaign: Campaign,
    index: int,
    prompt: PromptSpec,
    seed: int,
    reader: ReferenceReader | None = None,
) -> tuple[VisualRequest | FamilyRequest | None, list[Problem], list[Reference]]:
    """Validate one item's body into its request model; problems point into the campaign.

    Also returns the item's reference images (read through ``reader``, by default the
    campaign's)."""
    reader = reader or campaign.reader
    req_key = campaign.req_key_for(prompt)
    info = resolve_model(req_key)
    if info is not None and info.family != "visual":
        return build_family_request(campaign, index, prompt, info, reader)
    cls = REQUEST_CLASSES[req_key]
    refs, wire, problems = reference_wire(
        campaign, index, prompt, reader, cls.input_limits, req_key
    )
    if problems:
        return None, problems, refs
    try:
        fields = cls.reference_fields(wire)
    except ValueError as exc:
        return None, [Problem(*images_at(campaign, index, prompt), str(exc))], refs
    body = request_body(campaign, prompt, seed, fields)
    try:
        return parse_request(body), [], refs
    except ValidationError as exc:
        return None, request_problems(exc, campaign, index, prompt), refs


def request_problems(
    exc: ValidationError, campaign: Campaign, index: int, prompt: PromptSpec
) -> list[Problem]:
    """Map the request model's errors back to where each value was written."""
    req_key = campaign.req_key_for(prompt)
    cls = REQUEST_CLASSES[req_key]
    text_field = prompt_field(cls)
    problems = []
    for error in exc.errors():
        loc: Loc = tuple(error["loc"])
        if loc and loc[0] == req_key:  # the discriminated union's tag
            loc = loc[1:]
        if not loc:
            problems.append(Problem(*campaign.locate(index), _with_key(error, req_key)))
            continue
        field, rest = str(loc[0]), loc[1:]
        at = _where(campaign, index, prompt, field, rest, text_field)
        if error.get("type") == "extra_forbidden" and not rest:
            known = [f for f in cls.model_fields if f not in PROMPT_FIELDS + IMAGE_FIELDS]
            hint = close_matches(field, known)
            tail = f"; did you mean {hint}?" if hint else ""
            message = f"unknown parameter {field!r} for {req_key}{tail}"
        else:
            message = _with_key(error, req_key)
        problems.append(Problem(*at, message))
    return problems


def _with_key(error: Any, req_key: str) -> str:
    """The error's message, naming the model unless it does already."""
    message = error_message(error)
    return message if req_key in message else f"{message} (req_key {req_key})"


def _where(
    campaign: Campaign,
    index: int,
    prompt: PromptSpec,
    field: str,
    rest: Loc,
    text_field: str | None,
) -> tuple[str, str]:
    """Where the value of request field ``field`` came from in the campaign file."""
    if field == text_field:
        return campaign.locate(index, ("prompt", *rest))
    if field in IMAGE_FIELDS:
        if campaign.images_for(prompt)[0]:
            return images_at(campaign, index, prompt, *[r for r in rest if isinstance(r, int)])
        return campaign.locate(index, (field, *rest))
    if field in prompt.params:
        return campaign.locate(index, ("params", field, *rest))
    if field in campaign.params:
        return campaign.source, format_loc(("params", field, *rest))
    if field == "seed" or field in EXTRA_SEED_FIELDS:
        return campaign.locate(index, ("seed",))
    if field == "req_key":
        return campaign.locate(index, ("model",)) if prompt.model else _top(campaign, "model")
    return campaign.locate(index, ("params", field, *rest))


def _top(campaign: Campaign, key: str) -> tuple[str, str]:
    return campaign.source, key
