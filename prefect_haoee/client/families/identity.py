"""Request identity of every non-visual family: the canonical JSON and its sha256."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any, ClassVar, TypeAlias

from pydantic import BaseModel, ConfigDict

from prefect_haoee.client.catalog import Mode
from prefect_haoee.client.kinds import FAMILY_STEPS, MediaKind, ModeChoice, StepNames
from prefect_haoee.client.requests.base import base64_identity
from prefect_haoee.client.requests.rules import GUESSED_INPUT_LIMITS, InputLimits, WireImage

__all__ = ["FamilyName", "FamilyRequest", "MediaKind", "image_identity"]

FamilyName: TypeAlias = str
"""Which wire format a job speaks: the name its adapter module registers (``openai_images``,
``sora``, ``minimax``, ``kling``, ``suno`` built in; an adapter module may add another)."""


class FamilyRequest(BaseModel):
    """Base of every non-visual request model.

    Like :class:`~prefect_haoee.client.requests.base.VisualRequest`, a request is the unit
    of identity: :attr:`request_hash` is the sha256 of :meth:`canonical_json` — the body
    :meth:`to_body` sends, minus :attr:`delivery_fields` (how the answer is delivered, not
    what is made), with sorted keys, compact separators and ``ensure_ascii=False``. The
    simulator hashes the body it receives the same way, so its ledger's ``duplicates``
    counts a request paid twice.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    family: ClassVar[FamilyName]
    kind: ClassVar[MediaKind]
    step_names: ClassVar[StepNames] = FAMILY_STEPS
    """The names its paid steps are committed under (the job protocol's, every family)."""
    delivery_fields: ClassVar[frozenset[str]] = frozenset()
    image_fields: ClassVar[frozenset[str]] = frozenset()
    """Fields holding input images: in the hash, inline images count by content."""
    max_references: ClassVar[int] = 0
    input_limits: ClassVar[InputLimits] = GUESSED_INPUT_LIMITS
    outputs: ClassVar[int] = 1
    """How many files one answer holds at most (:attr:`max_outputs`): a video is one file."""

    @classmethod
    def reference_fields(cls, images: Sequence[WireImage]) -> dict[str, Any]:
        """The body fields carrying campaign reference ``images`` (``ValueError`` if this
        request cannot take them). Families override this with what their API accepts."""
        if images:
            raise ValueError(f"{cls.__name__} takes no input image")
        return {}

    @classmethod
    def one_reference(
        cls, images: Sequence[WireImage], name: str, *, data_url: bool = False
    ) -> dict[str, Any]:
        """At most one image, in field ``name``: an https URL as it is, a file inline (raw
        base64, or a data URL)."""
        cls.check_reference_count(images)
        if not images:
            return {}
        image = images[0]
        if image.base64 is None:
            return {name: image.url}
        return {name: image.data_url if data_url else image.base64}

    @classmethod
    def check_reference_count(cls, images: Sequence[WireImage]) -> None:
        if len(images) > cls.max_references:
            raise ValueError(
                f"{cls.__name__} takes at most {cls.max_references} image(s), got {len(images)}"
            )

    @property
    def model_id(self) -> str:
        """The gateway model this request is billed under (``model``/``model_name``/``mv``)."""
        for name in ("model", "model_name", "mv"):
            value = getattr(self, name, None)
            if isinstance(value, str) and value:
                return value
        return self.family

    @property
    def variant(self) -> str | None:
        """A family sub-route the job lives under (Kling ``text2video``...), else None."""
        return None

    def to_body(self) -> dict[str, Any]:
        """The JSON body sent to the gateway (unset optional fields left out)."""
        return self.model_dump(mode="json", exclude_none=True)

    def canonical_body(self) -> dict[str, Any]:
        """The body without delivery fields; inline images (base64, data URLs) of
        :attr:`image_fields` as the sha256 of their bytes, URLs as they are."""
        body = {k: v for k, v in self.to_body().items() if k not in self.delivery_fields}
        for name in self.image_fields & body.keys():
            value = body[name]
            body[name] = (
                [image_identity(v) for v in value]
                if isinstance(value, list)
                else image_identity(value)
            )
        return body

    def canonical_json(self) -> str:
        return json.dumps(
            self.canonical_body(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )

    @property
    def request_hash(self) -> str:
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()

    @property
    def seed_value(self) -> int | None:
        seed = getattr(self, "seed", None)
        return seed if isinstance(seed, int) and not isinstance(seed, bool) else None

    @property
    def is_deterministic(self) -> bool:
        """False only for ``seed=-1``: such a request must never be cached."""
        return self.seed_value != -1

    @property
    def can_reseed(self) -> bool:
        """True when a copy with another seed is the same item (the model has a seed)."""
        return "seed" in type(self).model_fields

    @property
    def max_outputs(self) -> int:
        """How many files an answer to this request may hold (``n``, a group size, or the
        family's :attr:`outputs`); an answer with more is an error: only this many are stored."""
        return self.outputs

    def with_seed(self, seed: int) -> FamilyRequest:
        """A copy with another seed (used for retries after output moderation)."""
        if not self.can_reseed:
            raise ValueError(f"{type(self).__name__} has no seed parameter")
        return type(self).model_validate({**self.model_dump(exclude_none=True), "seed": seed})

    def mode_for(self, choice: ModeChoice) -> Mode:
        """Video and music are jobs (async); images are sync unless ``async`` is asked."""
        if self.kind != "image":
            return "async"
        return "async" if choice == "async" else "sync"


def image_identity(value: Any) -> Any:
    """An input image as the request hash sees it: a URL as is, inline data by content."""
    if not isinstance(value, str) or value.startswith(("http://", "https://")):
        return value
    if value.startswith("data:"):
        value = value.partition(",")[2]
    return base64_identity(value)
