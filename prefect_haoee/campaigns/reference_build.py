"""A prompt's reference images, read and checked for one model, located in the campaign.

Each refusal says which limit refused it: the model's per-image bytes (from its page, or
the guess :data:`~prefect_haoee.client.requests.rules.GUESSED_INPUT_LIMITS` for models
whose page states none: docs/gateway.md, "Limits"), its sides in pixels, its formats, its
total, or the reader's own caps. A reference is shown without URL credentials and with
control characters escaped (:func:`~.reference_sources.shown_source`).
"""

from __future__ import annotations

from prefect_haoee.campaigns.errors import Problem, format_loc
from prefect_haoee.campaigns.reference_sources import shown_source
from prefect_haoee.campaigns.references import (
    READ_CAP_BYTES,
    Reference,
    ReferenceProblem,
    ReferenceReader,
    TooLarge,
)
from prefect_haoee.campaigns.spec import Campaign, PromptSpec
from prefect_haoee.client.requests.rules import GUESSED_INPUT_LIMITS, InputLimits, WireImage


def images_at(campaign: Campaign, index: int, prompt: PromptSpec, *rest: int) -> tuple[str, str]:
    """Where the prompt's ``images`` (or entry ``rest``) were written: on it or campaign-wide."""
    if campaign.images_for(prompt)[1]:
        return campaign.locate(index, ("images", *rest))
    return campaign.source, format_loc(("images", *rest))


def _whose(limits: InputLimits, model: str) -> str:
    guessed = limits.formats == GUESSED_INPUT_LIMITS.formats and limits.max_bytes == (
        GUESSED_INPUT_LIMITS.max_bytes
    )
    return f"{model}'s" + (" guessed" if guessed else "")


def bytes_problem(size: int, limits: InputLimits, model: str) -> str:
    """An image above the model's per-image bytes, naming that limit."""
    limit = limits.max_bytes
    return f"{size} bytes, above {_whose(limits, model)} limit of {limit} bytes per image"


def load_references(
    campaign: Campaign,
    index: int,
    prompt: PromptSpec,
    reader: ReferenceReader,
    limits: InputLimits,
    model: str,
) -> tuple[list[Reference], list[Problem]]:
    """The prompt's reference images, read (once per reader) and checked; a file or object
    above ``model``'s per-image limit is refused from its size, before it is read."""
    refs: list[Reference] = []
    problems: list[Problem] = []
    for j, text in enumerate(campaign.images_for(prompt)[0]):
        try:
            refs.append(reader.load(text, limits.max_bytes))
        except TooLarge as exc:
            rule = str(exc) if exc.limit == READ_CAP_BYTES else None
            rule = rule or bytes_problem(exc.size, limits, model)
            at = images_at(campaign, index, prompt, j)
            problems.append(Problem(*at, f"{shown_source(text)}: {rule}"))
        except ReferenceProblem as exc:
            at = images_at(campaign, index, prompt, j)
            problems.append(Problem(*at, f"{shown_source(text)}: {exc}"))
    return refs, problems


def limit_problems(refs: list[Reference], limits: InputLimits, model: str) -> list[list[str]]:
    """Per reference, the limits of ``model`` it breaks (format, bytes, pixels, total)."""
    out: list[list[str]] = []
    for ref in refs:
        found: list[str] = []
        if ref.kind != "url" and ref.sha256 is not None:
            if ref.format not in limits.formats:
                allowed = "/".join(sorted(limits.formats))
                found.append(f"{ref.format} image; {_whose(limits, model)} formats are {allowed}")
            if ref.bytes is not None and ref.bytes > limits.max_bytes:
                found.append(bytes_problem(ref.bytes, limits, model))
            for side in (ref.width, ref.height):
                if side is not None and not limits.min_side <= side <= limits.max_side:
                    found.append(
                        f"{ref.width}x{ref.height} pixels, outside {_whose(limits, model)} "
                        f"limit of {limits.min_side} to {limits.max_side} pixels a side"
                    )
                    break
        out.append(found)
    total = sum(ref.bytes or 0 for ref in refs if ref.kind != "url")
    if limits.max_total_bytes is not None and total > limits.max_total_bytes and out:
        out[-1].append(
            f"the images total {total} bytes, above {_whose(limits, model)} limit of "
            f"{limits.max_total_bytes} bytes for all of a request's images"
        )
    return out


def reference_wire(
    campaign: Campaign,
    index: int,
    prompt: PromptSpec,
    reader: ReferenceReader,
    limits: InputLimits,
    model: str,
) -> tuple[list[Reference], list[WireImage], list[Problem]]:
    """References, their wire forms and the problems (read, or above ``model``'s limits)."""
    refs, problems = load_references(campaign, index, prompt, reader, limits, model)
    if problems:
        return refs, [], problems
    for j, found in enumerate(limit_problems(refs, limits, model)):
        at = images_at(campaign, index, prompt, j)
        problems.extend(Problem(*at, f"{shown_source(refs[j].source)}: {rule}") for rule in found)
    spec = campaign.references
    wire = [reader.wire(ref, spec.via, spec.expires_s) for ref in refs] if not problems else []
    return refs, wire, problems
