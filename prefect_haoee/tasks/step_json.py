"""Committed steps as a versioned JSON document, readable by later versions of the package.

A paid step's answer (a task id, result URLs, a job handle) is committed to the ledger of
paid steps (:mod:`~prefect_haoee.tasks.ledger`). Pickle would tie an entry to the classes
of the version that wrote it, and an entry a newer worker could not read would be paid
again. Answers are therefore written as::

    {"format": "prefect-haoee/step", "version": 1, "type": "SubmittedGeneration",
     "value": {...the model's JSON fields...}}

``type`` is a stable name listed in :data:`STEP_TYPES` (not a Python import path, so a
class may move between modules); ``value`` is validated by that model on reading, so
fields added later with defaults keep old records readable. A document that does not fit
(another format, a newer version, an unknown type, invalid fields) raises
:class:`~prefect_haoee.tasks.errors.UnreadableStepError`: never "not there".
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ValidationError

from prefect_haoee.client.families.base import JobHandle, JobState
from prefect_haoee.client.responses import GeneratedImages
from prefect_haoee.tasks.errors import UnreadableStepError
from prefect_haoee.tasks.records import SubmittedGeneration

STEP_FORMAT = "prefect-haoee/step"
STEP_VERSION = 1
"""Bump only for a change old readers must refuse; new optional fields need no bump."""

STEP_TYPES: dict[str, type[BaseModel]] = {
    "GeneratedImages": GeneratedImages,
    "SubmittedGeneration": SubmittedGeneration,
    "JobHandle": JobHandle,
    "JobState": JobState,
}
"""Stable names of the values a step may commit. Never rename an entry; add new ones."""

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
    cls = STEP_TYPES.get(str(document.get("type")))
    if cls is None:
        raise UnreadableStepError(f"{where}: unknown step type {document.get('type')!r}")
    try:
        return cls.model_validate(document.get("value"))
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) or "value" for e in exc.errors())
        raise UnreadableStepError(f"{where}: invalid {cls.__name__} ({fields})") from None


def dumps_step(value: Any) -> bytes:
    return json.dumps(encode_step(value), sort_keys=True, separators=(",", ":")).encode()


def loads_step(blob: bytes, where: str = "committed step") -> Any:
    try:
        document = json.loads(blob)
    except (ValueError, UnicodeDecodeError):
        raise UnreadableStepError(f"{where}: not JSON") from None
    return decode_step(document, where)
