"""Suno music: every shape of this family, confirmed or guessed, is in this file.

Source: docs/gateway.md, "The other families"; [T] = docs.yutoai.net (same template as
Haoee), [3P] = other gateways on the same template, GUESS = seen nowhere.

Confirmed by the docs:

* [3P] submit ``POST /suno/submit/music``: inspiration mode ``{gpt_description_prompt,
  make_instrumental, mv}``, custom mode ``{prompt (lyrics), title, tags, mv}``,
  continuation adds ``task_id``, ``continue_at``, ``continue_clip_id``; ``mv`` e.g.
  chirp-v3-5, chirp-v4, chirp-auk. Answer ``{"code": "success", "message": "", "data":
  "<task uuid>"}`` (a bare ``{"task_id"}`` is accepted too).
* [T] fetch ``GET /suno/fetch/{task_id}``.
* [3P] the task object: ``task_id``, ``action``, ``status``, ``fail_reason``,
  ``submit_time``/``start_time``/``finish_time``, ``progress`` "0%".."100%", ``data`` =
  clips ``{id, title, status streaming/complete, audio_url, image_url, video_url,
  model_name, metadata {tags, prompt, duration, error_type, error_message}}``.
* [3P] task statuses ``IN_PROGRESS``, ``SUCCESS``.

GUESS:

* Task statuses ``NOT_START``, ``SUBMITTED``, ``QUEUED``, ``FAILURE``.
* A ``{code, message, data: <task>}`` envelope around the fetch answer (the bare task
  object is accepted too); ``make_instrumental`` in custom mode; the field length limits.
* Error bodies ``{code: "<text>", message}`` with the HTTP status (``{"error": {...}}``
  accepted too).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, model_validator

from prefect_haoee.client.answers import COMMON_ERRORS
from prefect_haoee.client.families import base as fam
from prefect_haoee.client.families.reading import GATEWAY_TASK_STATUSES
from prefect_haoee.client.requests.rules import field_error

SUBMIT_PATH = "/suno/submit/music"  # [3P]
FETCH_PATH = "/suno/fetch/{job_id}"  # [T]
MV_PATTERN = r"^chirp-[a-z0-9.-]+$"

STATUSES = dict(GATEWAY_TASK_STATUSES)

ERRORS = COMMON_ERRORS.extended(
    rate_limit={"rate_limit"},
    moderation={"sensitive", "moderation"},
    server={"upstream_error", "fail_to_fetch_task"},
)


class _SunoRequest(fam.FamilyRequest):
    family: ClassVar[fam.FamilyName] = "suno"
    kind: ClassVar[fam.MediaKind] = "music"
    outputs: ClassVar[int] = 4
    """GUESS: suno answers two clips a song; four leaves room, and bounds a hostile answer."""

    mv: str = Field(default="chirp-v4", pattern=MV_PATTERN)


class SunoInspirationRequest(_SunoRequest):
    """灵感 mode: suno writes the lyrics from a description."""

    gpt_description_prompt: str = Field(min_length=1, max_length=3000)
    make_instrumental: bool = False


class SunoCustomRequest(_SunoRequest):
    """自定义 mode: your lyrics, title and style tags (optionally continuing a clip)."""

    prompt: str = Field(default="", max_length=5000)
    """The lyrics (may be empty only for an instrumental)."""
    title: str = Field(default="", max_length=200)
    tags: str = Field(default="", max_length=1000)
    make_instrumental: bool | None = None
    task_id: str | None = Field(default=None, min_length=1)
    continue_at: float | None = Field(default=None, ge=0)
    continue_clip_id: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _check_rules(self) -> SunoCustomRequest:
        name = type(self).__name__
        if not self.prompt.strip() and not self.make_instrumental:
            raise field_error(name, "prompt", "custom mode needs lyrics (or make_instrumental)", "")
        trio = {
            "task_id": self.task_id,
            "continue_at": self.continue_at,
            "continue_clip_id": self.continue_clip_id,
        }
        given = [k for k, v in trio.items() if v is not None]
        if given and len(given) != len(trio):
            missing = next(k for k, v in trio.items() if v is None)
            raise field_error(
                name, missing, "continuation needs task_id, continue_at and continue_clip_id", None
            )
        return self


SunoRequest = SunoInspirationRequest | SunoCustomRequest


def _task_object(payload: Any) -> Any:
    data = payload.get("data") if isinstance(payload, dict) else None
    if isinstance(data, dict) and "status" in data:
        return data
    if isinstance(payload, dict) and "status" in payload:
        return payload
    return None


def _clips(task: dict[str, Any]) -> list[dict[str, Any]]:
    clips = task.get("data")
    if not isinstance(clips, list):
        clips = task.get("clips")
    return [c for c in clips if isinstance(c, dict)] if isinstance(clips, list) else []


class SunoAdapter(fam.FamilyAdapter):
    errors = ERRORS
    statuses = STATUSES
    no_status = "the suno answer has no task status"
    request_types = (SunoInspirationRequest, SunoCustomRequest)
    submit_path = SUBMIT_PATH
    poll_path = FETCH_PATH
    id_keys = ("task_id", "id")
    model_patterns = (r"^(chirp|suno)[\w.-]*$",)
    price = 0.50
    example = "chirp-v4"
    rank = 4

    def task_object(self, payload: Any) -> Any:
        return _task_object(payload)

    def failure_of(self, task: Any) -> tuple[Any, str | None]:
        clips = _clips(task)
        meta: dict[str, Any] = next(
            (c["metadata"] for c in clips if isinstance(c.get("metadata"), dict)), {}
        )
        return meta.get("error_type"), fam.first_present(task, "fail_reason") or meta.get(
            "error_message"
        )

    def files_of(self, task: Any, handle: fam.JobHandle, base_url: str) -> dict[str, Any]:
        urls: list[str] = []
        described: list[dict[str, Any]] = []
        for clip in _clips(task):
            url = clip.get("audio_url")
            if not isinstance(url, str) or not url or clip.get("status") == "error":
                continue
            urls.append(url)
            meta = clip.get("metadata") if isinstance(clip.get("metadata"), dict) else {}
            described.append(
                {
                    "id": clip.get("id"),
                    "title": clip.get("title"),
                    "duration": (meta or {}).get("duration"),
                    "image_url": clip.get("image_url"),
                }
            )
        return {"file_urls": urls, "extras": {"clips": described} if described else {}}


ADAPTER = SunoAdapter()

__all__ = [
    "ADAPTER",
    "ERRORS",
    "STATUSES",
    "SunoAdapter",
    "SunoCustomRequest",
    "SunoInspirationRequest",
    "SunoRequest",
]
