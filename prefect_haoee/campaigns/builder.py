"""What building a request takes from its API, and the rules every API shares.

A :class:`RequestBuilder` says how a prompt becomes one API's request (the class, the
body, the fields that hold the text, the model, the seeds and the images);
:func:`problems_from` maps that request model's validation errors back to where each
value was written in the campaign, the same way for every API.
"""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from prefect_haoee.campaigns.errors import Problem, close_matches, format_loc
from prefect_haoee.campaigns.reference_build import images_at
from prefect_haoee.campaigns.spec import Campaign, PromptSpec
from prefect_haoee.client.families import FamilyRequest
from prefect_haoee.client.requests import VisualRequest
from prefect_haoee.client.requests.rules import InputLimits, WireImage

Loc = tuple[str | int, ...]


class RequestBuilder(Protocol):
    """How one gateway API's requests are built from a prompt."""

    @property
    def name(self) -> str:
        """The model, as messages name it."""

    @property
    def model_field(self) -> str:
        """The request field that names the model (from the campaign's ``model``)."""

    @property
    def seed_fields(self) -> tuple[str, ...]:
        """Request fields that take the item's seed."""

    @property
    def image_fields(self) -> tuple[str, ...]:
        """Request fields that take the prompt's images."""

    def prompt_problems(
        self, campaign: Campaign, index: int, prompt: PromptSpec
    ) -> list[Problem]: ...

    def input_limits(self, campaign: Campaign, prompt: PromptSpec) -> InputLimits:
        """The limits the prompt's references must meet."""

    def body(
        self, campaign: Campaign, prompt: PromptSpec, seed: int, wire: list[WireImage]
    ) -> tuple[type[BaseModel], dict[str, Any]]:
        """The request class and raw body (``ValueError`` when the images cannot go)."""

    def validate(self, cls: type[Any], body: dict[str, Any]) -> VisualRequest | FamilyRequest: ...

    def text_field(self, cls: type[Any]) -> str | None: ...

    def known_fields(self, cls: type[Any]) -> list[str]:
        """Parameters a misspelt one is compared with (for a hint)."""

    def located(self, loc: Loc) -> Loc:
        """An error's location in the body (without a union's tag)."""

    def message(self, error: Any) -> str:
        """The text of one validation error, naming the model."""

    def image_message(self, exc: ValueError) -> str: ...


def seedless_problems(
    campaign: Campaign, index: int, prompt: PromptSpec, name: str, seed_message: str
) -> list[Problem]:
    """A model without a seed: no ``seed``, and one variant (two would be one request)."""
    problems = []
    if prompt.seed is not None:
        problems.append(Problem(*campaign.locate(index, ("seed",)), seed_message))
    variants = campaign.variants_for(prompt)
    if variants > 1:
        at = (
            campaign.locate(index, ("variants",))
            if prompt.variants
            else (campaign.source, "variants")
        )
        message = (
            f"{name} has no seed parameter, so its {variants} variants of prompt "
            f"{prompt.id!r} would be the same request; use variants: 1"
        )
        problems.append(Problem(*at, message))
    return problems


def problems_from(
    exc: ValidationError,
    builder: RequestBuilder,
    cls: type[Any],
    campaign: Campaign,
    index: int,
    prompt: PromptSpec,
) -> list[Problem]:
    """Map the request model's errors back to where each value was written."""
    problems = []
    for error in exc.errors():
        loc = builder.located(tuple(error["loc"]))
        field, rest = (str(loc[0]), loc[1:]) if loc else ("", ())
        at = where(builder, cls, campaign, index, prompt, field, rest)
        if error.get("type") == "extra_forbidden" and field and not rest:
            hint = close_matches(field, builder.known_fields(cls))
            tail = f"; did you mean {hint}?" if hint else ""
            message = f"unknown parameter {field!r} for {builder.name}{tail}"
        else:
            message = builder.message(error)
        problems.append(Problem(*at, message))
    return problems


def where(
    builder: RequestBuilder,
    cls: type[Any],
    campaign: Campaign,
    index: int,
    prompt: PromptSpec,
    field: str,
    rest: Loc,
) -> tuple[str, str]:
    """Where the value of request field ``field`` came from in the campaign file."""
    if not field:
        return campaign.locate(index)
    if field == builder.text_field(cls):
        return campaign.locate(index, ("prompt", *rest))
    if field in builder.image_fields:
        if campaign.images_for(prompt)[0]:
            return images_at(campaign, index, prompt, *[r for r in rest if isinstance(r, int)])
        if field in PromptSpec.model_fields:  # written under its own name
            return campaign.locate(index, (field, *rest))
        if prompt.image_urls:  # the family field the prompt's image_urls went to
            return campaign.locate(index, ("image_urls", *rest))
    if field in prompt.params:
        return campaign.locate(index, ("params", field, *rest))
    if field in campaign.params:
        return campaign.source, format_loc(("params", field, *rest))
    if field in builder.seed_fields:
        return campaign.locate(index, ("seed",))
    if field == builder.model_field:
        return campaign.locate(index, ("model",)) if prompt.model else (campaign.source, "model")
    return campaign.locate(index, ("params", field, *rest))
