"""Sora 2 video, OpenAI "official format": every shape of this family is in this file.

Source: docs/gateway.md, "The other families" ("sora2 官方格式"); [3P] = other gateways on
the same template, OpenAI = the OpenAI Videos API this format copies, GUESS = seen nowhere.

Confirmed by the docs:

* [3P] create ``POST /v1/videos``; progress ``GET /v1/videos/{id}``.
* [3P] the video object: ``id``, ``object`` "video", ``model``, ``status``
  queued/in_progress/completed/failed, ``progress`` 0-100, ``created_at``, ``seconds``,
  ``size``.
* OpenAI: ``seconds`` "4"/"8"/"12"; ``size`` 720x1280 / 1280x720, plus 1024x1792 /
  1792x1024 for sora-2-pro; a failed video carries ``error: {code, message}``.

GUESS:

* The create body as JSON ``{model, prompt, seconds, size, input_reference}`` (OpenAI
  takes a multipart form; here ``input_reference`` is a URL/base64 string).
* The file: ``GET /v1/videos/{id}/content`` on the gateway, sent with the API key
  (OpenAI's path); a ``video_url``/``url`` field on the object, if the gateway adds one,
  is used instead.
* Error bodies ``{"error": {"message", "type", "code"}}`` with OpenAI-like string codes.
* Not implemented: the "unified" sora2 format (``GET /v1/video/query?id=``; its create
  paths are unknown).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from prefect_haoee.client.answers import OPENAI_STYLE_ERRORS
from prefect_haoee.client.families import base as fam
from prefect_haoee.client.requests.rules import WireImage, field_error

CREATE_PATH = "/v1/videos"  # [3P]
GET_PATH = "/v1/videos/{job_id}"  # [3P]
CONTENT_PATH = "/v1/videos/{video_id}/content"  # GUESS (OpenAI)

SoraSeconds = Literal["4", "8", "12"]
SoraSize = Literal["720x1280", "1280x720", "1024x1792", "1792x1024"]
PRO_ONLY_SIZES = frozenset({"1024x1792", "1792x1024"})

STATUSES: dict[str, fam.JobStatus] = {
    "queued": "queued",
    "in_progress": "running",
    "completed": "succeeded",
    "failed": "failed",
}

# GUESS: OpenAI-style error codes.
ERRORS = OPENAI_STYLE_ERRORS.extended(
    moderation={"input_moderation"},
    server={"video_generation_failed"},
    not_found={"video_not_found"},
)


class SoraVideoRequest(fam.FamilyRequest):
    """``POST /v1/videos``: text (or first-frame reference) to video."""

    family: ClassVar[fam.FamilyName] = "sora"
    kind: ClassVar[fam.MediaKind] = "video"

    model: str = Field(default="sora-2", pattern=r"^sora[\w.-]*$")
    prompt: str = Field(min_length=1, max_length=10_000)
    seconds: SoraSeconds = "4"
    size: SoraSize = "720x1280"
    input_reference: str | None = Field(default=None, repr=False)
    """A first-frame image: http(s) URL or raw base64 (GUESS: JSON string field)."""

    image_fields: ClassVar[frozenset[str]] = frozenset({"input_reference"})
    max_references: ClassVar[int] = 1

    @classmethod
    def reference_fields(cls, images: Sequence[WireImage]) -> dict[str, Any]:
        """One first-frame image: an https URL as it is, a file as raw base64."""
        return cls.one_reference(images, "input_reference")

    @field_validator("seconds", mode="before")
    @classmethod
    def _seconds_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @model_validator(mode="after")
    def _check_size(self) -> SoraVideoRequest:
        if self.size in PRO_ONLY_SIZES and not self.model.startswith("sora-2-pro"):
            raise field_error(
                type(self).__name__, "size", f"size {self.size} needs sora-2-pro", self.size
            )
        return self


class SoraAdapter(fam.FamilyAdapter):
    errors = ERRORS
    statuses = STATUSES
    no_status = "the video answer has no status"
    done_progress = None
    request_types = (SoraVideoRequest,)
    submit_path = CREATE_PATH
    poll_path = GET_PATH
    id_keys = ("id", "task_id")
    model_patterns = (r"^sora(?!_image$)[\w.-]*$",)
    price = 2.00
    example = "sora-2"
    rank = 1

    def progress_of(self, task: Any) -> float | None:
        value = fam.first_present(task, "progress")  # 0..100
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return max(0.0, min(1.0, float(value) / 100))
        return None

    def details_of(self, task: Any) -> dict[str, Any]:
        return {"extras": {k: task[k] for k in ("seconds", "size", "model") if k in task}}

    def files_of(self, task: Any, handle: fam.JobHandle, base_url: str) -> dict[str, Any]:
        direct = fam.first_present(task, "video_url", "url") or fam.unwrap(task, "output", "url")
        if isinstance(direct, str):
            return {"file_urls": [direct]}
        return {"file_urls": [base_url.rstrip("/") + CONTENT_PATH.format(video_id=handle.job_id)]}


ADAPTER = SoraAdapter()

__all__ = ["ADAPTER", "ERRORS", "STATUSES", "SoraAdapter", "SoraVideoRequest"]
