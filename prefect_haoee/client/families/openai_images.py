"""OpenAI-style images: every shape of this family, confirmed or guessed, is in this file.

Source: docs/gateway.md, "The other families". [T] = docs.yutoai.net (same Apifox template
and page titles as Haoee), [3P] = other gateways on the same upstream conventions, GUESS =
seen nowhere. Nothing here is confirmed for Haoee itself.

Confirmed by the docs:

* [T] ``POST /v1/images/generations``, JSON ``model``, ``prompt``, ``n``, ``size``,
  ``response_format`` ``url``/``b64_json``; ``aspect_ratio`` enum (4:3 3:4 16:9 9:16 2:3
  3:2 1:1 4:5 5:4 21:9, nano-banana); ``image`` = array of reference images (URL or
  base64); ``image_size`` 1K/2K/4K (nano-banana-2 only).
* [3P] Seedream extras: ``sequential_image_generation`` auto/disabled,
  ``sequential_image_generation_options.max_images`` 1-15, ``watermark``; at most 14
  references; ``size`` ``2K``/``4K`` or ``WxH``; Seedream 4.5 takes 2560x1440..4096x4096
  pixels, aspect 1/16..16.
* [T]/OpenAI answer ``{"created", "data": [{"url"} | {"b64_json"}]}`` ([T]'s example is
  empty; [3P] Seedream adds ``model``, ``usage``).
* [T] async wrapper: the same path + ``?async=true`` [+ ``&webhook=<url>``], answering
  ``{"task_id"}`` **or** ``{code, message, data: <id>}`` (both accepted); poll
  ``GET /v1/images/tasks/{task_id}`` (the path only).

GUESS:

* ``POST /v1/images/edits`` as an OpenAI multipart form: ``image`` (one file) or
  ``image[]`` (several), ``mask``, ``prompt``, ``model``, ``n``, ``size``,
  ``response_format``; the answer as for generations.
* The poll answer: the gateway's task object ``{code, message, data: {task_id, status
  NOT_START/SUBMITTED/QUEUED/IN_PROGRESS/SUCCESS/FAILURE, progress "45%", fail_reason,
  data: <images answer>}}``. Also accepted: the task object bare, ``status`` /
  ``task_status`` / ``state`` keys, OpenAI-like ``completed``/``failed``, and image URLs
  (or ``b64_json``) anywhere under ``url``/``image_url``/``urls``/``image_urls``.
* Error bodies ``{"error": {"message", "type", "code"}}`` with OpenAI-like string codes
  (``rate_limit_exceeded``, ``content_policy_violation``...).
* ``response_format`` is a delivery option, left out of the request hash (our choice);
  the 14-reference cap is applied to every model.
"""

from __future__ import annotations

from typing import Any, Literal

from prefect_haoee.client.answers import OPENAI_STYLE_ERRORS
from prefect_haoee.client.errors import TransportError
from prefect_haoee.client.families import base as fam
from prefect_haoee.client.families.image_requests import (
    ImageEditRequest,
    ImageGenerationRequest,
    ImagesRequest,
    SequentialOptions,
)
from prefect_haoee.client.families.reading import GATEWAY_TASK_STATUSES
from prefect_haoee.client.responses import GeneratedImages

GENERATIONS_PATH = "/v1/images/generations"
EDITS_PATH = "/v1/images/edits"
TASK_PATH = "/v1/images/tasks/{job_id}"  # [T]

# GUESS: task status strings (the gateway's task convention, as suno's).
STATUSES = dict(GATEWAY_TASK_STATUSES)

# GUESS: OpenAI-style error codes.
ERRORS = OPENAI_STYLE_ERRORS.extended(
    moderation={"prompt_blocked"}, server={"bad_response_status_code"}
)


Params = tuple[tuple[str, str], ...]


def _call(
    request: fam.FamilyRequest, purpose: Literal["generate", "submit"], params: Params
) -> fam.HttpCall:
    if isinstance(request, ImageEditRequest):
        content, ctype = request.multipart()
        family: fam.FamilyName = "openai_images"
        return fam.HttpCall(
            family, purpose, "POST", EDITS_PATH, params, content=content, content_type=ctype
        )
    if isinstance(request, ImageGenerationRequest):
        return fam.HttpCall(
            "openai_images", purpose, "POST", GENERATIONS_PATH, params, json=request.to_body()
        )
    raise TypeError(f"not an images request: {type(request).__name__}")


def images_from_answer(payload: Any, request_id: str | None = None) -> GeneratedImages:
    """``{"created", "data": [{"url"} | {"b64_json"}]}`` (also inside a ``data`` envelope)."""
    items = payload.get("data") if isinstance(payload, dict) else None
    if isinstance(items, dict):  # {code, data: {created, data: [...]}}
        payload, items = items, items.get("data")
    if not isinstance(items, list):
        raise TransportError("the images answer has no data list")
    urls = [i["url"] for i in items if isinstance(i, dict) and isinstance(i.get("url"), str)]
    b64 = [
        i["b64_json"] for i in items if isinstance(i, dict) and isinstance(i.get("b64_json"), str)
    ]
    extras = {k: v for k, v in payload.items() if k != "data"} if isinstance(payload, dict) else {}
    revised = [i.get("revised_prompt") for i in items if isinstance(i, dict)]
    if any(revised):
        extras["revised_prompts"] = revised
    return GeneratedImages(
        urls=[u for u in urls if u],
        base64=[b for b in b64 if b],
        request_id=request_id,
        extras=extras,
    )


class OpenAIImagesAdapter(fam.FamilyAdapter):
    errors = ERRORS
    statuses = STATUSES
    status_keys = ("status", "task_status", "state")
    reason_keys = ("fail_reason", "message")
    no_status = "the image task answer has no status"
    request_types = (ImageGenerationRequest, ImageEditRequest)
    supports_webhook = True
    poll_path = TASK_PATH
    id_keys = ("task_id", "id")
    model_patterns = (
        r"^sora_image$",
        r"^(doubao-seedream|doubao-seededit|nano-banana|gpt-4o-image|gpt-image|"
        r"qwen-image|flux|dall-e)[\w.-]*$",
    )
    modes = ("sync", "async")
    price = 0.30
    example = "nano-banana"
    rank = 5

    def sync_call(self, request: fam.FamilyRequest) -> fam.HttpCall:
        return _call(request, "generate", ())

    def generated(self, answer: Any) -> GeneratedImages:
        images = images_from_answer(answer)
        if images.count == 0:
            raise TransportError("the images call succeeded without an image")
        return images

    def submit_call(
        self, request: fam.FamilyRequest, *, webhook: str | None = None
    ) -> fam.HttpCall:
        params: tuple[tuple[str, str], ...] = (("async", "true"),)
        if webhook:
            params += (("webhook", webhook),)
        return _call(request, "submit", params)

    def files_of(self, task: Any, handle: fam.JobHandle, base_url: str) -> dict[str, Any]:
        urls = fam.collect_strings(
            task,
            frozenset({"url", "image_url", "b64_json"}),
            list_keys=frozenset({"urls", "image_urls"}),
        )
        return {"file_urls": urls}


ADAPTER = OpenAIImagesAdapter()

__all__ = [
    "ADAPTER",
    "ERRORS",
    "STATUSES",
    "ImageEditRequest",
    "ImageGenerationRequest",
    "ImagesRequest",
    "OpenAIImagesAdapter",
    "SequentialOptions",
    "images_from_answer",
]
