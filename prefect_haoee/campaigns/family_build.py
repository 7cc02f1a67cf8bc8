"""Campaign items for the gateway's other families (OpenAI-style images, video, music).

How a prompt becomes a family request (the field names are the family modules' own):

| family | prompt text → | ``image_urls`` → | ``model`` → |
|---|---|---|---|
| openai_images | ``prompt`` | ``image`` (all) | ``model`` |
| sora | ``prompt`` | ``input_reference`` (the first) | ``model`` |
| minimax | ``prompt`` | ``first_frame_image`` (the first) | ``model`` |
| kling | ``prompt`` | ``image`` (the first; image-to-video) | ``model_name`` |
| suno | ``gpt_description_prompt`` (inspiration mode), or ``prompt`` = lyrics when ``params``
  has ``title`` or ``tags`` (custom mode) | not used | ``mv`` |

These models take no seed: a prompt has one variant (two would be the same request).

Reference images (``images:``) travel as each request class's ``reference_fields`` says:
OpenAI-style images send https URLs in ``image`` (generations) and files or S3 objects as
a multipart upload (edits); the video families take the first frame (Kling also the
last) as a URL, raw base64 (sora, kling) or a data URL (MiniMax).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from prefect_haoee.campaigns.errors import Problem, close_matches, error_message
from prefect_haoee.campaigns.models import ModelInfo
from prefect_haoee.campaigns.reference_build import images_at, reference_wire
from prefect_haoee.campaigns.references import Reference, ReferenceReader
from prefect_haoee.campaigns.spec import Campaign, PromptSpec
from prefect_haoee.client.families import (
    FamilyRequest,
    ImageEditRequest,
    ImageGenerationRequest,
    KlingImage2VideoRequest,
    KlingText2VideoRequest,
    MinimaxVideoRequest,
    SoraVideoRequest,
    SunoCustomRequest,
    SunoInspirationRequest,
)
from prefect_haoee.client.requests.rules import WireImage

FIRST_IMAGE_FIELD = {"sora": "input_reference", "minimax": "first_frame_image", "kling": "image"}
MODEL_FIELD = {"kling": "model_name", "suno": "mv"}


def family_class(
    info: ModelInfo,
    prompt: PromptSpec,
    params: dict[str, Any],
    wire: list[WireImage] | None = None,
) -> type[FamilyRequest]:
    files = any(image.base64 is not None for image in wire or [])
    if info.family == "openai_images":
        return ImageEditRequest if files else ImageGenerationRequest
    if info.family == "sora":
        return SoraVideoRequest
    if info.family == "minimax":
        return MinimaxVideoRequest
    if info.family == "kling":
        with_image = prompt.image_urls or wire
        return KlingImage2VideoRequest if with_image else KlingText2VideoRequest
    if "title" in params or "tags" in params:
        return SunoCustomRequest
    return SunoInspirationRequest


def text_field(cls: type[FamilyRequest]) -> str:
    return "gpt_description_prompt" if cls is SunoInspirationRequest else "prompt"


def family_body(
    campaign: Campaign, info: ModelInfo, prompt: PromptSpec, wire: list[WireImage] | None = None
) -> tuple[type[FamilyRequest], dict[str, Any]]:
    """The class and raw body of a prompt (``ValueError`` when its images cannot go)."""
    params = {**campaign.params, **prompt.params}
    cls = family_class(info, prompt, params, wire)
    body: dict[str, Any] = {**params, MODEL_FIELD.get(info.family, "model"): info.name}
    body[text_field(cls)] = prompt.prompt
    if prompt.image_urls:
        if info.family == "openai_images":
            body["image"] = list(prompt.image_urls)
        elif info.family in FIRST_IMAGE_FIELD:
            body[FIRST_IMAGE_FIELD[info.family]] = prompt.image_urls[0]
    if wire:
        body.update(cls.reference_fields(wire))
    return cls, body


def family_prompt_problems(
    campaign: Campaign, index: int, prompt: PromptSpec, info: ModelInfo
) -> list[Problem]:
    problems = []
    if prompt.seed is not None:
        at = campaign.locate(index, ("seed",))
        problems.append(Problem(*at, f"{info.name} ({info.family}) takes no seed"))
    if prompt.binary_data_base64 is not None:
        at = campaign.locate(index, ("binary_data_base64",))
        problems.append(Problem(*at, f"{info.name} takes reference images as image_urls"))
    if prompt.image_urls and info.family == "suno":
        at = campaign.locate(index, ("image_urls",))
        problems.append(Problem(*at, f"{info.name} (music) takes no image"))
    variants = campaign.variants_for(prompt)
    if variants > 1:
        at = (
            campaign.locate(index, ("variants",))
            if prompt.variants
            else (campaign.source, "variants")
        )
        problems.append(
            Problem(
                *at,
                f"{info.name} has no seed parameter, so its {variants} variants of prompt "
                f"{prompt.id!r} would be the same request; use variants: 1",
            )
        )
    return problems


def build_family_request(
    campaign: Campaign,
    index: int,
    prompt: PromptSpec,
    info: ModelInfo,
    reader: ReferenceReader,
) -> tuple[FamilyRequest | None, list[Problem], list[Reference]]:
    limits_cls = family_class(info, prompt, {**campaign.params, **prompt.params}, [])
    refs, wire, problems = reference_wire(
        campaign, index, prompt, reader, limits_cls.input_limits, info.name
    )
    if problems:
        return None, problems, refs
    try:
        cls, body = family_body(campaign, info, prompt, wire)
    except ValueError as exc:
        message = f"{info.name}: {exc}"
        return None, [Problem(*images_at(campaign, index, prompt), message)], refs
    try:
        return cls.model_validate(body), [], refs
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            field = str(loc[0]) if loc else ""
            rest = loc[1:]
            at = _where(campaign, index, prompt, info, cls, field, rest)
            if error.get("type") == "extra_forbidden" and not rest:
                hint = close_matches(field, list(cls.model_fields))
                tail = f"; did you mean {hint}?" if hint else ""
                message = f"unknown parameter {field!r} for {info.name}{tail}"
            else:
                message = f"{error_message(error)} (model {info.name})"
            problems.append(Problem(*at, message))
        return None, problems, refs


def _where(
    campaign: Campaign,
    index: int,
    prompt: PromptSpec,
    info: ModelInfo,
    cls: type[FamilyRequest],
    field: str,
    rest: tuple[Any, ...],
) -> tuple[str, str]:
    if field == text_field(cls):
        return campaign.locate(index, ("prompt", *rest))
    if field in ("image", "image_tail", *FIRST_IMAGE_FIELD.values()):
        if prompt.image_urls:
            return campaign.locate(index, ("image_urls", *rest))
        if campaign.images_for(prompt)[0]:
            return images_at(campaign, index, prompt)
    if field in prompt.params:
        return campaign.locate(index, ("params", field, *rest))
    if field in campaign.params:
        from prefect_haoee.campaigns.errors import format_loc

        return campaign.source, format_loc(("params", field, *rest))
    if field == MODEL_FIELD.get(info.family, "model"):
        return campaign.locate(index, ("model",)) if prompt.model else (campaign.source, "model")
    return campaign.locate(index, ("params", field, *rest) if field else ())
