"""One prompt x variant -> one validated request model, with seeds and located problems.

Seeds are explicit:

- no ``seed`` on the prompt: a deterministic seed per variant, ::

      int(sha256(f"{campaign}:{prompt_id}:{variant}:{salt}").hexdigest(), 16) % (2**31 - 1)

  where ``salt`` is ``seed_salt`` with ``{date}`` replaced by the run date (``YYYY-MM-DD``).
  The default salt ``""`` gives the same seeds on every run (a rerun pays nothing); a salt
  of ``"{date}"`` gives new seeds, hence new images, each day.
- ``seed: N`` (N >= 0): variant ``i`` gets ``N + i``.
- ``seed: -1``: random; every variant asks for a random seed and is never cached.

Models with secondary seeds (``llm_seed``, ``sr_seed`` of 通用2.1) get the item's seed there
too unless ``params`` set them, so that their requests are deterministic as well.

Building is written once for every gateway API (:func:`build_request`): read and check
the references, make the body, validate it, and map the model's errors back to where
each value was written. What differs is a :class:`RequestBuilder`: the visual one here,
the other families' in :mod:`~prefect_haoee.campaigns.family_build`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import ValidationError

from prefect_haoee.campaigns.builder import Loc, RequestBuilder, problems_from, seedless_problems
from prefect_haoee.campaigns.errors import Problem, error_message
from prefect_haoee.campaigns.family_build import FamilyBuilder
from prefect_haoee.campaigns.models import resolve_model
from prefect_haoee.campaigns.reference_build import images_at, reference_wire
from prefect_haoee.campaigns.references import Reference, ReferenceReader
from prefect_haoee.campaigns.spec import MAX_SEED, Campaign, PromptSpec
from prefect_haoee.client.families import FamilyRequest
from prefect_haoee.client.requests import REQUEST_CLASSES, VisualRequest, parse_request
from prefect_haoee.client.requests.rules import InputLimits

SEED_MODULUS = 2**31 - 1
PROMPT_FIELDS = ("prompt", "positive_prompt", "custom_prompt")
EXTRA_SEED_FIELDS = ("llm_seed", "sr_seed")
IMAGE_FIELDS = ("image_urls", "binary_data_base64", "image_digests")


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


@dataclass(frozen=True)
class VisualBuilder:
    """Volcengine visual requests: one class per ``req_key`` (a discriminated union)."""

    name: str
    model_field = "req_key"
    seed_fields = ("seed", *EXTRA_SEED_FIELDS)
    image_fields = IMAGE_FIELDS

    @property
    def cls(self) -> type[VisualRequest]:
        return REQUEST_CLASSES[self.name]

    def prompt_problems(self, campaign: Campaign, index: int, prompt: PromptSpec) -> list[Problem]:
        cls = REQUEST_CLASSES.get(self.name)
        model_at = campaign.locate(index, ("model",)) if prompt.model else _top(campaign, "model")
        if cls is None:
            return [Problem(*model_at, f"no request model for req_key {self.name!r}")]
        problems = []
        if prompt_field(cls) is None:
            message = f"{self.name} has no prompt field to put the text in"
            problems.append(Problem(*model_at, message))
        if "seed" not in cls.model_fields:
            problems += seedless_problems(
                campaign, index, prompt, self.name, f"{self.name} has no seed parameter"
            )
        elif prompt.seed is not None and prompt.seed >= 0 and _past_max(campaign, prompt):
            at = campaign.locate(index, ("seed",))
            problems.append(Problem(*at, f"seed + variants - 1 must stay <= {MAX_SEED}"))
        return problems

    def input_limits(self, campaign: Campaign, prompt: PromptSpec) -> InputLimits:
        return self.cls.input_limits

    def body(
        self, campaign: Campaign, prompt: PromptSpec, seed: int, wire: list[Any]
    ) -> tuple[type[VisualRequest], dict[str, Any]]:
        return self.cls, request_body(campaign, prompt, seed, self.cls.reference_fields(wire))

    def validate(self, cls: type[Any], body: dict[str, Any]) -> VisualRequest:
        return parse_request(body)

    def text_field(self, cls: type[Any]) -> str | None:
        return prompt_field(cls)

    def known_fields(self, cls: type[Any]) -> list[str]:
        return [f for f in cls.model_fields if f not in PROMPT_FIELDS + IMAGE_FIELDS]

    def located(self, loc: Loc) -> Loc:
        return loc[1:] if loc and loc[0] == self.name else loc  # the union's tag

    def message(self, error: Any) -> str:
        """The error's message, naming the model unless it does already."""
        message = error_message(error)
        return message if self.name in message else f"{message} (req_key {self.name})"

    def image_message(self, exc: ValueError) -> str:
        return str(exc)


def builder_for(campaign: Campaign, prompt: PromptSpec) -> RequestBuilder:
    """The builder of the API that serves the prompt's model."""
    req_key = campaign.req_key_for(prompt)
    info = resolve_model(req_key)
    if info is not None and info.family != "visual":
        return FamilyBuilder(info)
    return VisualBuilder(req_key)


def prompt_problems(campaign: Campaign, index: int, prompt: PromptSpec) -> list[Problem]:
    """Rules of a prompt that do not depend on the variant (seeds and the model's fields)."""
    req_key = campaign.req_key_for(prompt)
    info = resolve_model(req_key)
    if info is not None and prompt.kind is not None and prompt.kind != info.kind:
        at = campaign.locate(index, ("kind",))
        return [Problem(*at, f"kind {prompt.kind!r} but {req_key} makes {info.kind}")]
    return builder_for(campaign, prompt).prompt_problems(campaign, index, prompt)


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
    builder = builder_for(campaign, prompt)
    limits = builder.input_limits(campaign, prompt)
    refs, wire, problems = reference_wire(
        campaign, index, prompt, reader or campaign.reader, limits, builder.name
    )
    if problems:
        return None, problems, refs
    try:
        cls, body = builder.body(campaign, prompt, seed, wire)
    except ValueError as exc:
        at = images_at(campaign, index, prompt)
        return None, [Problem(*at, builder.image_message(exc))], refs
    try:
        return builder.validate(cls, body), [], refs
    except ValidationError as exc:
        return None, problems_from(exc, builder, cls, campaign, index, prompt), refs


def _past_max(campaign: Campaign, prompt: PromptSpec) -> bool:
    return (prompt.seed or 0) + campaign.variants_for(prompt) - 1 > MAX_SEED


def _top(campaign: Campaign, key: str) -> tuple[str, str]:
    return campaign.source, key
