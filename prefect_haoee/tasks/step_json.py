"""Committed steps as a versioned JSON document, readable by later versions of the package.

A paid step's answer (a task id, result URLs, a job handle) is committed to the ledger of
paid steps (:mod:`~prefect_haoee.tasks.ledger`). Pickle would tie an entry to the classes
of the version that wrote it, and an entry a newer worker could not read would be paid
again. Answers are therefore written as::

    {"format": "prefect-haoee/step", "version": 1, "type": "JobHandle",
     "value": {...the model's JSON fields...}}

``type`` is a stable name listed in :data:`STEP_TYPES` (not a Python import path, so a
class may move between modules); ``value`` is validated by that model on reading, so
fields added later with defaults keep old records readable. Types earlier versions
committed and this one no longer writes are read through :data:`LEGACY_TYPES` into the
types of today: a visual ``SubmittedGeneration`` becomes the :class:`JobHandle` of its
task, a family's finished ``JobState`` its :class:`GeneratedImages`. A document that does not fit
(another format, a newer version, an unknown type, invalid fields) raises
:class:`~prefect_haoee.tasks.errors.UnreadableStepError`: never "not there".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from prefect_haoee.client.families.base import JobState
from prefect_haoee.client.handles import JobHandle
from prefect_haoee.client.requests.base import LogoInfo
from prefect_haoee.client.responses import GeneratedImages
from prefect_haoee.tasks.errors import UnreadableStepError

STEP_FORMAT = "prefect-haoee/step"
STEP_VERSION = 1
"""Bump only for a change old readers must refuse; new optional fields need no bump."""

STEP_TYPES: dict[str, type[BaseModel]] = {
    "GeneratedImages": GeneratedImages,
    "JobHandle": JobHandle,
}
"""Stable names of the values a step commits now: the job protocol's one answer type and
its one handle type. Never rename an entry; add new ones."""


class SubmittedGenerationV1(BaseModel):
    """The visual API's accepted submission as versions before the job protocol committed
    it (read only: it decodes to the :class:`JobHandle` of the same task)."""

    model_config = ConfigDict(frozen=True)

    request_hash: str
    req_key: str
    task_id: str
    seed: int | None = None
    deterministic: bool = True
    return_url: bool = True
    logo_info: LogoInfo | None = None
    gateway_request_id: str | None = None
    submitted_at: datetime

    def upgraded(self) -> JobHandle:
        return JobHandle(
            family="visual",
            kind="image",
            job_id=self.task_id,
            request_hash=self.request_hash,
            model=self.req_key,
            seed=self.seed if self.deterministic else -1,
            return_url=self.return_url,
            logo_info=self.logo_info,
            gateway_request_id=self.gateway_request_id,
            submitted_at=self.submitted_at,
        )


def _finished_job(state: JobState) -> GeneratedImages:
    return state.answer()


LEGACY_TYPES: dict[str, tuple[type[BaseModel], Callable[[Any], BaseModel]]] = {
    "SubmittedGeneration": (SubmittedGenerationV1, SubmittedGenerationV1.upgraded),
    "JobState": (JobState, _finished_job),
}
"""Types earlier versions committed: the model that reads each, and its value today."""

_NAME_OF = {cls: name for name, cls in STEP_TYPES.items()}


def encode_step(value: Any) -> dict[str, Any]:
    """The JSON document of one committed value (a model listed in :data:`STEP_TYPES`)."""
    name = _NAME_OF.get(type(value))
    if name is None:
        raise TypeError(f"{type(value).__name__} is not a step type: add it to STEP_TYPES")
    return {
        "format": STEP_FORMAT,
        "version": STEP_VERSION,
        "type": name,
        "value": value.model_dump(mode="json"),
    }


def decode_step(document: Any, where: str = "committed step") -> Any:
    """The value of a document written by :func:`encode_step` (this or an older version)."""
    if not isinstance(document, dict) or document.get("format") != STEP_FORMAT:
        raise UnreadableStepError(f"{where}: not a {STEP_FORMAT} document")
    version = document.get("version")
    if type(version) is not int or not 1 <= version <= STEP_VERSION:
        raise UnreadableStepError(
            f"{where}: format version {version!r} is not readable by this version of "
            f"prefect-haoee (reads 1..{STEP_VERSION}): upgrade it"
        )
    name = str(document.get("type"))
    cls, upgrade = STEP_TYPES.get(name), None
    if cls is None and name in LEGACY_TYPES:
        cls, upgrade = LEGACY_TYPES[name]
    if cls is None:
        raise UnreadableStepError(f"{where}: unknown step type {document.get('type')!r}")
    try:
        value = cls.model_validate(document.get("value"))
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) or "value" for e in exc.errors())
        raise UnreadableStepError(f"{where}: invalid {name} ({fields})") from None
    return upgrade(value) if upgrade is not None else value


def dumps_step(value: Any) -> bytes:
    return json.dumps(encode_step(value), sort_keys=True, separators=(",", ":")).encode()


def loads_step(blob: bytes, where: str = "committed step") -> Any:
    try:
        document = json.loads(blob)
    except (ValueError, UnicodeDecodeError):
        raise UnreadableStepError(f"{where}: not JSON") from None
    return decode_step(document, where)
