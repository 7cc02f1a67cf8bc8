"""A work item: one image to produce, and how a campaign's prompt x variant builds it.

The build is deterministic (same campaign, prompt, variant and date: same request, hash
and object stem), so a plan keeps only a few fields per item and rebuilds the item when
the flow reaches it (:class:`prefect_haoee.campaigns.plan.Plan`).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from prefect_haoee.campaigns.build import build_request, item_seed
from prefect_haoee.campaigns.checks import check_key_prefix
from prefect_haoee.campaigns.errors import Problem
from prefect_haoee.campaigns.models import Kind, resolve_model
from prefect_haoee.campaigns.references import ReferenceReader
from prefect_haoee.campaigns.spec import Campaign, PromptSpec
from prefect_haoee.client.catalog import Mode
from prefect_haoee.client.families import FamilyRequest, ImageEditRequest, JobRequest
from prefect_haoee.client.requests import AnyVisualRequest


class WorkItem(BaseModel):
    """One image to produce: a validated request and where its image goes.

    ``object_stem`` is ``{prefix}/{request_hash}`` (the S3 key without extension). Random
    items (``seed: -1``) share their hash across variants and are never looked up in S3,
    so theirs is ``{prefix}/{request_hash}-{prompt_id}-{variant}``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    campaign: str
    prompt_id: str
    variant: int
    req_key: str
    mode: Mode
    kind: Kind = "image"
    """image | video | music (the model's kind)."""
    seed: int | None
    """The request's seed (``-1`` random; ``None`` for a model without seed)."""
    request: AnyVisualRequest | JobRequest | FamilyRequest = Field(union_mode="left_to_right")
    """The request. A family added by an adapter module alone is not in ``JobRequest``
    (a union for typing and for parsing saved items): its instances pass as a
    ``FamilyRequest``."""
    request_hash: str
    prefix: str
    object_stem: str
    cost: float
    """Price of this request in CNY (see :mod:`prefect_haoee.campaigns.pricing`)."""
    cacheable: bool
    metadata: dict[str, str]
    """S3 object metadata: campaign, prompt-id, variant, req-key, seed."""
    references: tuple[dict[str, Any], ...] = ()
    """Its reference images: source, kind, via, bytes, sha256, format, width, height."""

    @property
    def label(self) -> str:
        """``{prompt_id}-v{variant}``: for task run names and tables."""
        return f"{self.prompt_id}-v{self.variant}"

    def short(self) -> dict[str, Any]:
        """A JSON-ready row without the request body (no base64)."""
        return {
            "prompt_id": self.prompt_id,
            "variant": self.variant,
            "req_key": self.req_key,
            "mode": self.mode,
            "seed": self.seed,
            "request_hash": self.request_hash,
            "object_stem": self.object_stem,
            "cost": self.cost,
            "cacheable": self.cacheable,
            "references": [dict(ref) for ref in self.references],
        }


def build_item(
    campaign: Campaign,
    index: int,
    prompt: PromptSpec,
    variant: int,
    run_date: date,
    cost: float,
    reader: ReferenceReader,
) -> tuple[WorkItem | None, list[Problem]]:
    seed = item_seed(campaign, prompt, variant, run_date)
    request, problems, refs = build_request(campaign, index, prompt, seed, reader)
    if request is None:
        return None, problems
    prefix = campaign.output.render_prefix(campaign.name, run_date, prompt.id, variant)
    try:
        check_key_prefix(prefix, f"output prefix of {prompt.id!r} variant {variant}")
    except ValueError as exc:
        return None, [Problem(campaign.source, "output.prefix", str(exc))]
    request_hash = request.request_hash
    cacheable = request.is_deterministic
    stem = f"{prefix}/{request_hash}"
    if not cacheable:
        stem = f"{stem}-{prompt.id}-{variant}"
    model = campaign.req_key_for(prompt)
    info = resolve_model(model)
    metadata = {
        "campaign": campaign.name,
        "prompt-id": prompt.id,
        "variant": str(variant),
        "req-key": model,
    }
    if request.seed_value is not None:
        metadata["seed"] = str(request.seed_value)
    item = WorkItem(
        campaign=campaign.name,
        prompt_id=prompt.id,
        variant=variant,
        req_key=model,
        mode=campaign.mode_for(prompt),
        kind=info.kind if info else "image",
        seed=request.seed_value,
        request=request,
        request_hash=request_hash,
        prefix=prefix,
        object_stem=stem,
        cost=cost,
        cacheable=cacheable,
        metadata=metadata,
        references=tuple(ref.row(_via(campaign, ref.kind, request)) for ref in refs),
    )
    return item, []


def _via(campaign: Campaign, kind: str, request: Any) -> str:
    """How a reference of ``kind`` travels in ``request`` (for plans and manifests)."""
    if kind == "url":
        return "url"
    if kind == "s3" and getattr(request, "image_digests", None):
        return "presigned"
    return "multipart" if isinstance(request, ImageEditRequest) else "base64"
