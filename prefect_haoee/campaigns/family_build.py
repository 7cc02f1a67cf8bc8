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

from dataclasses import dataclass
from typing import Any

from prefect_haoee.campaigns.builder import Loc, seedless_problems
from prefect_haoee.campaigns.errors import Problem, error_message
from prefect_haoee.campaigns.models import ModelInfo
from prefect_haoee.campaigns.spec import Campaign, PromptSpec
from prefect_haoee.client import families, registry
from prefect_haoee.client.families import FamilyRequest
from prefect_haoee.client.requests.rules import InputLimits, WireImage

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
        return families.ImageEditRequest if files else families.ImageGenerationRequest
    if info.family == "sora":
        return families.SoraVideoRequest
    if info.family == "minimax":
        return families.MinimaxVideoRequest
    if info.family == "kling":
        with_image = prompt.image_urls or wire
        return families.KlingImage2VideoRequest if with_image else families.KlingText2VideoRequest
    if info.family == "suno":
        if "title" in params or "tags" in params:
            return families.SunoCustomRequest
        return families.SunoInspirationRequest
    # Any other family: the one request class its adapter declares (text in ``prompt``,
    # model in ``model``), so a new adapter module is enough to run it from a campaign.
    types: tuple[type[FamilyRequest], ...] = tuple(
        getattr(registry.family_named(info.family).adapter, "request_types", ())
    )
    if len(types) != 1:
        raise ValueError(f"family {info.family!r} has {len(types)} request types, not one")
    return types[0]


def text_field(cls: type[FamilyRequest]) -> str:
    return "gpt_description_prompt" if cls is families.SunoInspirationRequest else "prompt"


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


@dataclass(frozen=True)
class FamilyBuilder:
    """Requests of the other families (a class per family and mode, no seed)."""

    info: ModelInfo
    seed_fields = ()

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def model_field(self) -> str:
        return MODEL_FIELD.get(self.info.family, "model")

    @property
    def image_fields(self) -> tuple[str, ...]:
        return ("image", "image_tail", *FIRST_IMAGE_FIELD.values())

    def prompt_problems(self, campaign: Campaign, index: int, prompt: PromptSpec) -> list[Problem]:
        info = self.info
        problems = seedless_problems(
            campaign, index, prompt, info.name, f"{info.name} ({info.family}) takes no seed"
        )
        if prompt.binary_data_base64 is not None:
            at = campaign.locate(index, ("binary_data_base64",))
            problems.append(Problem(*at, f"{info.name} takes reference images as image_urls"))
        if prompt.image_urls and info.family == "suno":
            at = campaign.locate(index, ("image_urls",))
            problems.append(Problem(*at, f"{info.name} (music) takes no image"))
        return problems

    def input_limits(self, campaign: Campaign, prompt: PromptSpec) -> InputLimits:
        params = {**campaign.params, **prompt.params}
        return family_class(self.info, prompt, params, []).input_limits

    def body(
        self, campaign: Campaign, prompt: PromptSpec, seed: int, wire: list[WireImage]
    ) -> tuple[type[FamilyRequest], dict[str, Any]]:
        return family_body(campaign, self.info, prompt, wire)

    def validate(self, cls: type[Any], body: dict[str, Any]) -> FamilyRequest:
        request: FamilyRequest = cls.model_validate(body)
        return request

    def text_field(self, cls: type[Any]) -> str | None:
        return text_field(cls)

    def known_fields(self, cls: type[Any]) -> list[str]:
        return list(cls.model_fields)

    def located(self, loc: Loc) -> Loc:
        return loc

    def message(self, error: Any) -> str:
        return f"{error_message(error)} (model {self.info.name})"

    def image_message(self, exc: ValueError) -> str:
        return f"{self.info.name}: {exc}"
