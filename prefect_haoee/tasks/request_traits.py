"""What a request declares about itself, read the same way for every gateway API.

The task layer never asks which class a request is: it reads what the request declares.
A family request (OpenAI-style images, video, music) declares its ``family``, its ``kind``
and the ``model_id`` it is billed under; a Volcengine visual request declares its
``req_key`` only, and is an image of the ``volcv`` API. Until the visual base declares
``family``/``kind``/``model_id`` itself (a client-side hook), the defaults below stand
in for it, and the functions here are the one place that knows.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal, TypeAlias

from prefect_haoee.client.catalog import CATALOG, Mode
from prefect_haoee.client.families import MEDIA_OF_KIND, FamilyRequest, MediaKind
from prefect_haoee.client.media import MediaType
from prefect_haoee.client.requests.base import VisualRequest

AnyRequest: TypeAlias = VisualRequest | FamilyRequest
ModeChoice = Literal["auto", "sync", "async"]

VISUAL_API = "visual"
"""The ``family`` a Volcengine visual request (``POST /volcv/v1``) declares."""


def api_of(request: AnyRequest) -> str:
    """The gateway API that serves ``request``: its ``family``, else ``volcv``."""
    return str(getattr(request, "family", VISUAL_API))


def kind_of(request: AnyRequest) -> MediaKind:
    """What the request makes: ``image``, ``video`` or ``music``."""
    kind: Any = getattr(request, "kind", "image")
    return "video" if kind == "video" else "music" if kind == "music" else "image"


def model_of(request: AnyRequest) -> str:
    """The model the request is billed under (``model_id``, else ``req_key``)."""
    return str(getattr(request, "model_id", None) or getattr(request, "req_key", ""))


def media_type(request: AnyRequest) -> MediaType | None:
    """The streamed file type (``video``/``audio``); None for images (downloaded, verified)."""
    return MEDIA_OF_KIND[kind_of(request)]


def can_reseed(request: AnyRequest) -> bool:
    """True when a copy with another seed is the same item (the model has a seed)."""
    return "seed" in type(request).model_fields and callable(getattr(request, "with_seed", None))


def reseed(request_hash: str, attempt: int) -> int:
    """A new, deterministic seed for the n-th retry after output moderation."""
    digest = hashlib.sha256(f"{request_hash}:reseed:{attempt}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 2_147_483_647


def with_seed(request: AnyRequest, seed: int) -> AnyRequest:
    changed: AnyRequest = getattr(request, "with_seed")(seed)  # noqa: B009 - a declared hook
    return changed


def resolve_mode(request: AnyRequest, mode: ModeChoice) -> Mode:
    """``auto``: the catalog's preferred mode (visual), sync for family images, async for
    video and music; an explicit mode the model does not serve is an error."""
    if api_of(request) != VISUAL_API:
        if kind_of(request) != "image":
            return "async"
        return "async" if mode == "async" else "sync"
    spec = CATALOG.get(model_of(request))
    if mode == "auto":
        return spec.preferred_mode if spec else "sync"
    if spec is not None and not spec.supports(mode):
        raise ValueError(f"{spec.req_key} does not support mode {mode!r} (only {spec.modes})")
    return mode


def default_stem(prefix: str, request_hash: str) -> str:
    """``{prefix}/{request_hash}`` (the object name of an item without a plan's stem)."""
    return f"{prefix.strip('/')}/{request_hash}" if prefix.strip("/") else request_hash
