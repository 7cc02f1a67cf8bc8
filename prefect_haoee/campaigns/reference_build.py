"""A prompt's reference images, read and checked for one model, located in the campaign."""

from __future__ import annotations

from prefect_haoee.campaigns.errors import Problem, format_loc
from prefect_haoee.campaigns.references import (
    Reference,
    ReferenceProblem,
    ReferenceReader,
    limit_problems,
)
from prefect_haoee.campaigns.spec import Campaign, PromptSpec
from prefect_haoee.client.requests.rules import InputLimits, WireImage


def images_at(campaign: Campaign, index: int, prompt: PromptSpec, *rest: int) -> tuple[str, str]:
    """Where the prompt's ``images`` (or entry ``rest``) were written: on it or campaign-wide."""
    if campaign.images_for(prompt)[1]:
        return campaign.locate(index, ("images", *rest))
    return campaign.source, format_loc(("images", *rest))


def load_references(
    campaign: Campaign, index: int, prompt: PromptSpec, reader: ReferenceReader
) -> tuple[list[Reference], list[Problem]]:
    """The prompt's reference images, read (once per reader) and checked."""
    refs: list[Reference] = []
    problems: list[Problem] = []
    for j, text in enumerate(campaign.images_for(prompt)[0]):
        try:
            refs.append(reader.load(text))
        except ReferenceProblem as exc:
            problems.append(Problem(*images_at(campaign, index, prompt, j), f"{text}: {exc}"))
    return refs, problems


def reference_wire(
    campaign: Campaign,
    index: int,
    prompt: PromptSpec,
    reader: ReferenceReader,
    limits: InputLimits,
    model: str,
) -> tuple[list[Reference], list[WireImage], list[Problem]]:
    """References, their wire forms and the problems (read, or above ``model``'s limits)."""
    refs, problems = load_references(campaign, index, prompt, reader)
    if problems:
        return refs, [], problems
    for j, found in enumerate(limit_problems(refs, limits, model)):
        at = images_at(campaign, index, prompt, j)
        problems.extend(Problem(*at, f"{refs[j].source}: {rule}") for rule in found)
    spec = campaign.references
    wire = [reader.wire(ref, spec.via, spec.expires_s) for ref in refs] if not problems else []
    return refs, wire, problems
