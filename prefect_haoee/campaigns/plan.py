"""Planning: a campaign becomes work items (one per prompt x variant), priced, before any call.

Planning is pure: no network, no S3. The caller lists the S3 objects already there and
passes their stems (``{prefix}/{request_hash}``) to :func:`make_plan`; items found there are
free. Budgets are checked on the plan (:meth:`Plan.check_budget`) before anything is paid.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from prefect_haoee.campaigns.build import build_request, item_seed, prompt_problems
from prefect_haoee.campaigns.checks import check_key_prefix
from prefect_haoee.campaigns.errors import BudgetExceededError, CampaignError, Problem
from prefect_haoee.campaigns.item_count import check_item_count, max_images_message
from prefect_haoee.campaigns.limits import CampaignLimits
from prefect_haoee.campaigns.models import Kind, resolve_model
from prefect_haoee.campaigns.pricing import CURRENCY, UnknownPriceError, is_guessed, price_for
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
    family: str = "visual"
    """The model's API family: ``visual`` (Volcengine's visual API) or an OpenAI-style one."""
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


def expand(
    campaign: Campaign,
    run_date: date,
    references: ReferenceReader | None = None,
    *,
    max_items: int | None = None,
) -> list[WorkItem]:
    """Every prompt x variant as a work item; all problems raise one ``CampaignError``.

    The items are counted first: above ``max_items`` (default ``HAOEE_CAMPAIGN_MAX_ITEMS``)
    nothing is built (:mod:`prefect_haoee.campaigns.item_count`). Reference images are read
    through ``references`` (default: the campaign's reader, which reads each at most once).
    """
    return _expand(campaign, run_date, references, max_items, keep=True)


def check_items(
    campaign: Campaign,
    run_date: date,
    references: ReferenceReader | None = None,
    *,
    max_items: int | None = None,
) -> None:
    """What :func:`expand` checks, without keeping the items (the loader validates a file
    this way: memory stays at one item plus a stem per item)."""
    _expand(campaign, run_date, references, max_items, keep=False)


def _expand(
    campaign: Campaign,
    run_date: date,
    references: ReferenceReader | None,
    max_items: int | None,
    *,
    keep: bool,
) -> list[WorkItem]:
    cap = CampaignLimits().max_items if max_items is None else max_items
    check_item_count(campaign, None, cap, with_budget=False)  # the budget is the plan's
    reader = references or campaign.reader
    problems: list[Problem] = []
    items: list[WorkItem] = []
    stems: dict[str, str] = {}
    for index, entry in enumerate(campaign.prompts):
        if not isinstance(entry, PromptSpec):
            at = campaign.locate(index, ("from_csv",))
            problems.append(Problem(*at, "from_csv is resolved by load_campaign(path) only"))
            continue
        found = prompt_problems(campaign, index, entry)
        req_key = campaign.req_key_for(entry)
        try:
            cost = price_for(req_key, campaign.prices)
        except UnknownPriceError as exc:
            at = campaign.locate(index, ("model",)) if entry.model else (campaign.source, "model")
            found.append(Problem(*at, str(exc)))
        if found:
            problems.extend(found)
            continue
        for variant in range(campaign.variants_for(entry)):
            item, errors = _item(campaign, index, entry, variant, run_date, cost, reader)
            if item is None:
                problems.extend(errors)
                break  # the other variants differ only by seed: same problems
            if item.cacheable and item.object_stem in stems:
                at = campaign.locate(index, ("seed",) if entry.seed is not None else ())
                message = (
                    f"variant {variant} of {entry.id!r} is the same request as "
                    f"{stems[item.object_stem]} (same image and S3 object); change its "
                    "seed, prompt or params"
                )
                problems.append(Problem(*at, message))
            stems.setdefault(item.object_stem, f"variant {variant} of {entry.id!r}")
            if keep:
                items.append(item)
    if problems:
        raise CampaignError(problems)
    return items


def _item(
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
        family=info.family if info else "visual",
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


class Plan(BaseModel):
    """The items of one run, which of them S3 already holds, and what the rest costs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    campaign: Campaign
    run_date: date
    items: tuple[WorkItem, ...]
    stored_stems: frozenset[str] = frozenset()
    """Object stems of this plan's cacheable items already in S3."""

    @property
    def common_prefix(self) -> str:
        """S3 prefix shared by all items of this run (list it to find stored items)."""
        return self.campaign.output.common_prefix(self.campaign.name, self.run_date)

    def is_stored(self, item: WorkItem) -> bool:
        return item.cacheable and item.object_stem in self.stored_stems

    @property
    def stored(self) -> frozenset[str]:
        """Request hashes of the items already in S3 (free, skipped)."""
        return frozenset(item.request_hash for item in self.items if self.is_stored(item))

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def to_generate(self) -> list[WorkItem]:
        """Items not in S3 yet, in plan order: each is one paid gateway call."""
        return [item for item in self.items if not self.is_stored(item)]

    @property
    def paid_calls(self) -> int:
        return len(self.to_generate)

    @property
    def cost(self) -> float:
        """Cost in CNY of the paid calls (stored items are free)."""
        return round(sum(item.cost for item in self.to_generate), 6)

    @property
    def images_by_req_key(self) -> dict[str, int]:
        return dict(Counter(item.req_key for item in self.items))

    def budget_problems(self) -> list[Problem]:
        budget, source = self.campaign.budget, self.campaign.source
        problems = []
        if budget.max_images is not None and self.total > budget.max_images:
            problems.append(
                Problem(
                    source,
                    "budget.max_images",
                    max_images_message(self.total, budget.max_images),
                )
            )
        if budget.max_cost is not None and self.cost > budget.max_cost:
            guessed = any(is_guessed(k, self.campaign.prices) for k in self.images_by_req_key)
            note = " (default prices are guesses: set 'prices')" if guessed else ""
            problems.append(
                Problem(
                    source,
                    "budget.max_cost",
                    f"the {self.paid_calls} paid calls cost {self.cost:.2f} {CURRENCY}{note}, "
                    f"above max_cost {budget.max_cost:.2f}",
                )
            )
        return problems

    def check_budget(self) -> None:
        """Raise ``BudgetExceededError`` when over ``max_images`` or ``max_cost``."""
        problems = self.budget_problems()
        if problems:
            raise BudgetExceededError(problems)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary: counts, cost, budget and one short row per item."""
        budget = self.campaign.budget
        prices = self.campaign.prices
        return {
            "campaign": self.campaign.name,
            "source": self.campaign.source,
            "run_date": self.run_date.isoformat(),
            "bucket": self.campaign.output.bucket,
            "prefix": self.common_prefix,
            "total": self.total,
            "stored": self.total - self.paid_calls,
            "paid_calls": self.paid_calls,
            "cost": self.cost,
            "currency": CURRENCY,
            "prices_guessed": sorted(k for k in self.images_by_req_key if is_guessed(k, prices)),
            "images_by_req_key": self.images_by_req_key,
            "budget": {
                "max_images": budget.max_images,
                "max_cost": budget.max_cost,
                "ok": not self.budget_problems(),
                "problems": [str(problem) for problem in self.budget_problems()],
            },
            "references": self.references,
            "items": [{**item.short(), "stored": self.is_stored(item)} for item in self.items],
        }

    @property
    def references(self) -> list[dict[str, Any]]:
        """Each reference image of the plan once (source, bytes, sha256...), in order."""
        seen: dict[str, dict[str, Any]] = {}
        for item in self.items:
            for ref in item.references:
                seen.setdefault(str(ref["source"]), dict(ref))
        return list(seen.values())


def make_plan(campaign: Campaign, run_date: date, stored_stems: Iterable[str] = ()) -> Plan:
    """Expand ``campaign`` for ``run_date``; ``stored_stems`` are the object stems found in S3
    (keys without extension). Raises ``CampaignError`` on invalid requests."""
    if not campaign.reader.read_objects:
        raise ValueError("this campaign was loaded without reading its S3 references")
    items = tuple(expand(campaign, run_date))
    stored = set(stored_stems)
    mine = frozenset(item.object_stem for item in items if item.cacheable) & stored
    return Plan(campaign=campaign, run_date=run_date, items=items, stored_stems=mine)
