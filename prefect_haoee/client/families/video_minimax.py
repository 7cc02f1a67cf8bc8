"""MiniMax Hailuo video: every shape of this family, confirmed or guessed, is in this file.

Source: docs/gateway.md, "The other families" ("MiniMax-Hailuo-2.3-Fast"); [3P] = other
gateways on the same template, upstream = MiniMax's own API, GUESS = seen nowhere.

Confirmed by the docs:

* [3P] status query ``GET /minimax/v1/query/video_generation?task_id=<id>`` answering
  ``{code, message, data: {task_id, action, status, fail_reason, submit_time,
  start_time, finish_time, progress, data: {file: {bytes, file_id, purpose, ...}}}}``.
* [3P] (upstream) body ``{model, prompt, first_frame_image, duration 6/10, resolution
  768P/1080P, prompt_optimizer}``; Hailuo 2.3 Fast is image-to-video only (first frame
  required).

GUESS:

* Submit ``POST /minimax/v1/video_generation`` (upstream naming), answering upstream
  ``{task_id, base_resp}`` or gateway ``{code, message, data: {task_id} | "<id>"}`` (all
  accepted).
* Status strings: gateway ``NOT_START``/``SUBMITTED``/``IN_PROGRESS``/``SUCCESS``/
  ``FAILURE`` or upstream ``Queueing``/``Preparing``/``Processing``/``Success``/``Fail``
  (both accepted); the upstream query form ``{task_id, status, file_id, base_resp}`` is
  accepted too.
* The file link ``GET /minimax/v1/files/retrieve?file_id=<id>`` answering ``{file:
  {download_url, ...}, base_resp}`` (or inside a ``data`` envelope); a ``download_url``
  already in the query answer is used directly.
* Error codes (upstream's, unconfirmed for Haoee): 1002/1039 rate limit, 1004 auth,
  1026/1027 sensitive content, 1000/1001/1013 server; HTTP 200 with
  ``base_resp.status_code`` != 0 is an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from prefect_haoee.client.answers import COMMON_ERRORS
from prefect_haoee.client.errors import TransportError
from prefect_haoee.client.families import base as fam
from prefect_haoee.client.families.reading import GATEWAY_TASK_STATUSES
from prefect_haoee.client.requests.rules import WireImage, field_error

SUBMIT_PATH = "/minimax/v1/video_generation"  # GUESS
QUERY_PATH = "/minimax/v1/query/video_generation"  # [3P]
FILE_PATH = "/minimax/v1/files/retrieve"  # GUESS

STATUSES: dict[str, fam.JobStatus] = {
    **GATEWAY_TASK_STATUSES,
    "Queueing": "queued",
    "Preparing": "running",
    "Processing": "running",
    "Success": "succeeded",
    "Fail": "failed",
}

ERRORS = COMMON_ERRORS.extended(
    rate_limit={1002, 1039, "rate_limit"},
    moderation={1026, 1027, "sensitive"},
    auth={1004},
    server={1000, 1001, 1013, "upstream_error"},
    not_found={"file_not_found"},
)


class MinimaxVideoRequest(fam.FamilyRequest):
    """``POST /minimax/v1/video_generation`` (GUESS path): Hailuo image/text to video."""

    family: ClassVar[fam.FamilyName] = "minimax"
    kind: ClassVar[fam.MediaKind] = "video"

    model: str = Field(default="MiniMax-Hailuo-2.3-Fast", min_length=1, max_length=128)
    prompt: str | None = Field(default=None, min_length=1, max_length=2000)
    first_frame_image: str | None = Field(default=None, repr=False)
    """http(s) URL, ``data:image/...;base64,...`` or raw base64."""

    image_fields: ClassVar[frozenset[str]] = frozenset({"first_frame_image"})
    max_references: ClassVar[int] = 1

    @classmethod
    def reference_fields(cls, images: Sequence[WireImage]) -> dict[str, Any]:
        """The first frame: an https URL as it is, a file as a data URL (upstream's form)."""
        return cls.one_reference(images, "first_frame_image", data_url=True)

    duration: Literal[6, 10] = 6
    resolution: Literal["768P", "1080P"] = "768P"
    prompt_optimizer: bool | None = None

    @model_validator(mode="after")
    def _check_inputs(self) -> MinimaxVideoRequest:
        name = type(self).__name__
        if "fast" in self.model.lower() and not self.first_frame_image:
            raise field_error(
                name,
                "first_frame_image",
                f"{self.model} is image-to-video only: first_frame_image is required",
                None,
            )
        if not self.prompt and not self.first_frame_image:
            raise field_error(name, "prompt", "give a prompt or a first_frame_image", None)
        if self.first_frame_image is not None and not self.first_frame_image.strip():
            raise field_error(name, "first_frame_image", "empty image", self.first_frame_image)
        return self


class MinimaxAdapter(fam.FamilyAdapter):
    errors = ERRORS
    statuses = STATUSES
    no_status = "the MiniMax answer has no status"
    request_types = (MinimaxVideoRequest,)
    submit_path = SUBMIT_PATH
    model_patterns = (r"^(minimax|hailuo)[\w.-]*$",)
    price = 2.00
    example = "MiniMax-Hailuo-2.3-Fast"
    rank = 2

    def poll_call(self, handle: fam.JobHandle) -> fam.HttpCall:
        return fam.HttpCall(
            "minimax", "poll", "GET", QUERY_PATH, params=(("task_id", handle.job_id),)
        )

    def failure_of(self, task: Any) -> tuple[Any, str | None]:
        base = task.get("base_resp") if isinstance(task, dict) else None
        base = base if isinstance(base, dict) else {}
        return base.get("status_code"), fam.first_present(task, "fail_reason") or base.get(
            "status_msg"
        )

    def files_of(self, task: Any, handle: fam.JobHandle, base_url: str) -> dict[str, Any]:
        urls = fam.collect_strings(task, frozenset({"download_url", "video_url"}))
        if urls:
            return {"file_urls": urls}
        ids = [
            str(v) for v in _file_ids(task) if isinstance(v, (str, int)) and not isinstance(v, bool)
        ]
        return {"file_ids": ids}

    def file_call(self, handle: fam.JobHandle, file_id: str) -> fam.HttpCall:
        return fam.HttpCall("minimax", "file", "GET", FILE_PATH, params=(("file_id", file_id),))

    def parse_file(self, payload: Any) -> str:
        urls = fam.collect_strings(payload, frozenset({"download_url", "url"}))
        if not urls:
            raise TransportError("the MiniMax file answer has no download_url")
        return urls[0]


def _file_ids(task: Any) -> list[Any]:
    """``data.file.file_id`` [3P], ``data.file_id`` or the upstream top-level ``file_id``."""
    found: list[Any] = []
    if isinstance(task, dict):
        found.append(task.get("file_id"))
        inner = task.get("data")
        if isinstance(inner, dict):
            found.append(inner.get("file_id"))
            file = inner.get("file")
            if isinstance(file, dict):
                found.append(file.get("file_id"))
        file = task.get("file")
        if isinstance(file, dict):
            found.append(file.get("file_id"))
    return list(dict.fromkeys(v for v in found if v not in (None, "")))


ADAPTER = MinimaxAdapter()

__all__ = ["ADAPTER", "ERRORS", "STATUSES", "MinimaxAdapter", "MinimaxVideoRequest"]
