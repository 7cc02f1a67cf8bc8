"""Kling video (``kling-video-v2-6``): every shape of this family is in this file.

Source: docs/gateway.md, "The other families" ("Kling"); [H] = the Haoee nav, [3P] = other
gateways, upstream = Kling's own API, GUESS = seen nowhere.

Confirmed by the docs:

* [H] the family ``kling-video-v2-6``: text-to-video, image-to-video, task query (other
  nav items — multi-image, extend, lip sync, effects, sound, Omni — not implemented).
* [3P] query ``GET /kling/v1/videos/{text2video|image2video}/{task_id}``: ``data.task_status``
  submitted/processing/succeed/failed, ``data.task_status_msg``,
  ``data.task_result.videos[].url``.

GUESS:

* Submit ``POST /kling/v1/videos/{text2video|image2video}`` (upstream naming).
* The body (upstream's): ``{model_name, prompt, negative_prompt, cfg_scale 0..1, mode
  std/pro, duration "5"/"10"}`` + ``aspect_ratio`` 16:9/9:16/1:1 (text2video) or
  ``image``, ``image_tail`` (image2video); ``model_name`` defaults to ``kling-v2-6``.
* Answers ``{code: 0, message, request_id, data: {...}}`` (upstream); a gateway
  ``{code: "success", data: <that>}`` wrapper is accepted too.
* Error codes (upstream's): 1000-1004 auth, 1300/1301 content policy, 1302/1303 rate /
  concurrency limit, 1203 not found, 5000-5002 server.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from prefect_haoee.client.answers import COMMON_ERRORS
from prefect_haoee.client.families import base as fam
from prefect_haoee.client.requests.rules import WireImage

SUBMIT_PATH = "/kling/v1/videos/{variant}"  # GUESS
QUERY_PATH = "/kling/v1/videos/{variant}/{task_id}"  # [3P]
VARIANTS = ("text2video", "image2video")

STATUSES: dict[str, fam.JobStatus] = {
    "submitted": "queued",
    "processing": "running",
    "succeed": "succeeded",
    "failed": "failed",
}

ERRORS = COMMON_ERRORS.extended(
    rate_limit={1302, 1303},
    moderation={1300, 1301},
    auth={1000, 1001, 1002, 1003, 1004},
    server={5000, 5001, 5002},
    not_found={1203},
)


def _check_image(value: str | None) -> str | None:
    """http(s) URL or raw base64 (upstream refuses a ``data:`` prefix)."""
    if value is None or value.startswith(("http://", "https://")):
        return value
    if not value or value.startswith("data:"):
        raise ValueError("an http(s) URL or raw base64 without a data: prefix")
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("neither an http(s) URL nor valid base64") from None
    return value


class _KlingRequest(fam.FamilyRequest):
    family: ClassVar[fam.FamilyName] = "kling"
    kind: ClassVar[fam.MediaKind] = "video"
    endpoint: ClassVar[str]

    model_name: str = Field(default="kling-v2-6", min_length=1, max_length=64)
    negative_prompt: str | None = Field(default=None, max_length=2500)
    cfg_scale: float | None = Field(default=None, ge=0, le=1)
    mode: Literal["std", "pro"] = "std"
    duration: Literal["5", "10"] = "5"

    @field_validator("duration", mode="before")
    @classmethod
    def _duration_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @property
    def variant(self) -> str:
        return self.endpoint


class KlingText2VideoRequest(_KlingRequest):
    """``POST /kling/v1/videos/text2video`` (GUESS path)."""

    endpoint: ClassVar[str] = "text2video"

    prompt: str = Field(min_length=1, max_length=2500)
    aspect_ratio: Literal["16:9", "9:16", "1:1"] = "16:9"


class KlingImage2VideoRequest(_KlingRequest):
    """``POST /kling/v1/videos/image2video`` (GUESS path): the image is the first frame."""

    endpoint: ClassVar[str] = "image2video"

    image: str = Field(min_length=1, repr=False)
    image_tail: str | None = Field(default=None, repr=False)
    prompt: str | None = Field(default=None, max_length=2500)

    image_fields: ClassVar[frozenset[str]] = frozenset({"image", "image_tail"})
    max_references: ClassVar[int] = 2

    @classmethod
    def reference_fields(cls, images: Sequence[WireImage]) -> dict[str, Any]:
        """First frame (and last frame): https URLs as they are, files as raw base64."""
        cls.check_reference_count(images)
        values = [i.base64 if i.base64 is not None else i.url for i in images]
        return dict(zip(("image", "image_tail"), values, strict=False))

    @field_validator("image", "image_tail")
    @classmethod
    def _check_images(cls, value: str | None) -> str | None:
        return _check_image(value)


KlingRequest = KlingText2VideoRequest | KlingImage2VideoRequest


def _task_object(payload: Any) -> Any:
    """The dict holding ``task_status``: ``data``, ``data.data`` (gateway wrapper) or top."""
    for candidate in (
        payload.get("data") if isinstance(payload, dict) else None,
        (payload.get("data") or {}).get("data")
        if isinstance(payload, dict) and isinstance(payload.get("data"), dict)
        else None,
        payload,
    ):
        if isinstance(candidate, dict) and "task_status" in candidate:
            return candidate
    return None


class KlingAdapter(fam.FamilyAdapter):
    errors = ERRORS
    statuses = STATUSES
    status_keys = ("task_status",)
    no_status = "the Kling answer has no data.task_status"
    request_types = (KlingText2VideoRequest, KlingImage2VideoRequest)
    submit_path = SUBMIT_PATH
    model_patterns = (r"^kling[\w.-]*$",)
    price = 2.00
    example = "kling-v2-6"
    rank = 3

    def parse_submit(self, payload: Any) -> str:
        task = _task_object(payload)
        return fam.submitted_id(task if task is not None else payload, "task_id")

    def poll_call(self, handle: fam.JobHandle) -> fam.HttpCall:
        variant = handle.variant or "text2video"
        if variant not in VARIANTS:
            raise ValueError(f"unknown Kling variant {variant!r}")
        path = QUERY_PATH.format(variant=variant, task_id=handle.job_id)
        return fam.HttpCall("kling", "poll", "GET", path)

    def task_object(self, payload: Any) -> Any:
        return _task_object(payload)

    def progress_of(self, task: Any) -> float | None:
        return None

    def failure_of(self, task: Any) -> tuple[Any, str | None]:
        return None, task.get("task_status_msg")

    def files_of(self, task: Any, handle: fam.JobHandle, base_url: str) -> dict[str, Any]:
        urls: list[str] = []
        durations: list[Any] = []
        videos = fam.first_present(task.get("task_result"), "videos")
        for video in videos if isinstance(videos, list) else []:
            if isinstance(video, dict) and isinstance(video.get("url"), str) and video["url"]:
                urls.append(video["url"])
                durations.append(video.get("duration"))
        return {"file_urls": urls, "extras": {"durations": durations} if durations else {}}


ADAPTER = KlingAdapter()

__all__ = [
    "ADAPTER",
    "ERRORS",
    "STATUSES",
    "KlingAdapter",
    "KlingImage2VideoRequest",
    "KlingRequest",
    "KlingText2VideoRequest",
]
