"""The campaign file as pydantic models (``extra="forbid"`` everywhere: unknown keys are errors).

A ``Campaign`` names a default model (``req_key``), parameters merged into every item, the
prompts (inline ``PromptSpec`` entries or ``from_csv`` sources, resolved by the loader), where
images go in S3, a budget, concurrency and rate, optional prices and an optional schedule.
Request-level rules (parameter ranges of each model, image counts) are checked when the
campaign is expanded into work items (:mod:`prefect_haoee.campaigns.plan`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from prefect_haoee.campaigns import checks
from prefect_haoee.campaigns.errors import (
    CSV_TAG,
    PROMPT_TAG,
    format_loc,
    locate_origin,
    located_error,
)
from prefect_haoee.campaigns.models import Kind, resolve_model
from prefect_haoee.campaigns.references import ReferenceReader
from prefect_haoee.client.catalog import Mode

CampaignMode = Literal["auto", "sync", "async"]
MAX_SEED = 2**31 - 1
DEFAULT_PREFIX = "campaigns/{name}/{date}"


# Fields the prompts and the campaign share, each with its check.
ReqKey = Annotated[str, AfterValidator(checks.check_req_key)]
Params = Annotated[dict[str, Any], AfterValidator(checks.check_params)]
ImageRefs = Annotated[list[str], AfterValidator(checks.check_images)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PromptSpec(_Strict):
    """One prompt; it yields ``variants`` work items (one per seed)."""

    id: Annotated[str, AfterValidator(checks.check_prompt_id)] = Field(
        description="Unique within the campaign: [A-Za-z0-9_-]{1,64}"
    )
    prompt: str = Field(description="The text (goes to prompt/positive_prompt/custom_prompt)")
    model: ReqKey | None = Field(default=None, description="req_key; default: the campaign's")
    params: Params = Field(default_factory=dict, description="Overlay on campaign params")
    variants: int | None = Field(default=None, ge=1)
    image_urls: list[str] | None = None
    binary_data_base64: Annotated[list[str] | None, BeforeValidator(checks.check_inline_images)] = (
        Field(default=None, repr=False)
    )
    images: ImageRefs | None = Field(
        default=None,
        description="Reference images in the model's order: local paths (relative to the "
        "campaign file), s3://bucket/key or https:// URLs; default: the campaign's",
    )
    seed: int | None = Field(
        default=None,
        ge=-1,
        le=MAX_SEED,
        description="Seed of variant 0 (variant i gets seed+i); -1 = random, never cached",
    )
    mode: CampaignMode | None = None
    kind: Kind | None = Field(
        default=None, description="image | video | music: checked against the model's kind"
    )

    @field_validator("prompt")
    @classmethod
    def _check_prompt(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("prompt text is empty")
        return value

    @model_validator(mode="after")
    def _one_way_to_give_images(self) -> PromptSpec:
        if self.images is not None and (self.image_urls or self.binary_data_base64):
            raise ValueError("give input images either as 'images' or as image_urls/base64")
        return self


class CsvPromptSource(_Strict):
    """``from_csv: prompts.csv``: rows ``id,prompt[,model][,images]`` (header row required;
    ``images`` separated by ``;``), the path relative to the campaign file. The loader
    turns each row into a ``PromptSpec``."""

    from_csv: str = Field(min_length=1)


def _entry_kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return CSV_TAG if "from_csv" in value else PROMPT_TAG
    return CSV_TAG if isinstance(value, CsvPromptSource) else PROMPT_TAG


PromptEntry = Annotated[
    Union[  # noqa: UP007 - tagged union members read best spelled out
        Annotated[PromptSpec, Tag(PROMPT_TAG)],
        Annotated[CsvPromptSource, Tag(CSV_TAG)],
    ],
    Discriminator(_entry_kind),
]


BLOCK_NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,99}$"
"""A saved block's name (Prefect slugs: lowercase letters, digits, hyphens)."""


class OutputSpec(_Strict):
    """Where images go: ``s3://{bucket}/{prefix}/{request_hash}.{ext}``.

    ``prefix`` placeholders: ``{name}``, ``{date}`` (the run date, ``YYYY-MM-DD``),
    ``{prompt_id}`` and ``{variant}`` (these two make a prefix per item).
    """

    bucket: Annotated[str, AfterValidator(checks.check_bucket)]
    prefix: str = DEFAULT_PREFIX
    bucket_block: str | None = Field(
        default=None,
        pattern=BLOCK_NAME_PATTERN,
        description="S3Bucket block (credentials, endpoint, folder) for `bucket`",
    )

    @field_validator("prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        checks.check_template(value, checks.PREFIX_PLACEHOLDERS, "output prefix")
        if not value.strip("/"):
            raise ValueError("output prefix is empty")
        return checks.check_key_prefix(value, "output prefix")

    def render_prefix(self, name: str, run_date: date, prompt_id: str, variant: int) -> str:
        """The prefix of one item, without leading or trailing ``/``."""
        return self.prefix.format(
            name=name, date=run_date.isoformat(), prompt_id=prompt_id, variant=variant
        ).strip("/")

    @property
    def per_item(self) -> bool:
        """True when the prefix differs per item (``{prompt_id}`` or ``{variant}`` in it)."""
        return "{prompt_id}" in self.prefix or "{variant}" in self.prefix

    def common_prefix(self, name: str, run_date: date) -> str:
        """The part of every item's prefix shared by a whole run (no trailing ``/``): the
        full prefix, or the folders before the first ``{prompt_id}``/``{variant}``. List S3
        under it to find stored items; a run-level file (a manifest) can go there."""
        cut = min(
            (i for i in (self.prefix.find("{prompt_id}"), self.prefix.find("{variant}")) if i >= 0),
            default=len(self.prefix),
        )
        head = self.prefix[:cut]
        if cut < len(self.prefix):
            head = head[: head.rfind("/") + 1]
        return head.format(name=name, date=run_date.isoformat()).strip("/")


class ReferencesSpec(_Strict):
    """How S3 reference objects travel: ``base64`` in the request (default), or
    ``presigned`` links the gateway fetches (models that take URLs; links last
    ``expires_s``). Identity is the content's sha256 either way."""

    via: Literal["base64", "presigned"] = "base64"
    expires_s: int = Field(default=6 * 3600, ge=60, le=7 * 24 * 3600)


class BudgetSpec(_Strict):
    """Refuse to start above these (images counted over all items, cost over paid calls)."""

    max_images: int | None = Field(default=None, ge=1)
    max_cost: float | None = Field(default=None, ge=0, allow_inf_nan=False, description="CNY")


class ScheduleSpec(_Strict):
    """Either ``cron`` (5 fields) in ``timezone`` (IANA name), or ``interval_seconds``."""

    cron: Annotated[str, AfterValidator(checks.check_cron)] | None = None
    timezone: Annotated[str, AfterValidator(checks.check_timezone)] = "UTC"
    interval_seconds: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _exactly_one(self) -> ScheduleSpec:
        if (self.cron is None) == (self.interval_seconds is None):
            raise ValueError("a schedule needs exactly one of 'cron' or 'interval_seconds'")
        return self


class Campaign(_Strict):
    """A campaign file. Build it with :func:`prefect_haoee.campaigns.load_campaign` (which
    resolves ``from_csv`` sources and checks every request) or directly."""

    name: Annotated[str, AfterValidator(checks.check_name)] = Field(
        description="[a-z0-9-]{1,63}: run names, S3 prefix, artifact keys"
    )
    description: str | None = None
    tags: list[str] = Field(default_factory=list)
    model: ReqKey | None = Field(default=None, description="Default req_key of the prompts")
    mode: CampaignMode = "auto"
    params: Params = Field(default_factory=dict)
    variants: int = Field(default=1, ge=1)
    prompts: list[PromptEntry] = Field(min_length=1)
    images: ImageRefs | None = Field(default=None, description="Default images of every prompt")
    references: ReferencesSpec = Field(default_factory=ReferencesSpec)
    output: OutputSpec
    budget: BudgetSpec = Field(default_factory=BudgetSpec)
    concurrency: int = Field(default=5, ge=1, le=64)
    qps: float = Field(default=10.0, gt=0, allow_inf_nan=False)
    prices: dict[str, Annotated[float, Field(ge=0, allow_inf_nan=False)]] | None = None
    seed_salt: str = Field(default="", description="Mixed into derived seeds; may hold {date}")
    schedule: ScheduleSpec | None = None
    credentials_block: str | None = Field(
        default=None, pattern=BLOCK_NAME_PATTERN, description="HaoeeCredentials block name"
    )

    # Where the campaign came from, for problem messages (set by the loader).
    _source: str = PrivateAttr(default="<campaign>")
    # Per resolved prompt: (file, label) - label "prompts[i]" or "row N" of a CSV file.
    _origins: tuple[tuple[str, str], ...] = PrivateAttr(default=())
    # Reads the reference images once per loaded campaign (set by the loader).
    _reader: ReferenceReader | None = PrivateAttr(default=None)

    @field_validator("mode")
    @classmethod
    def _check_mode(cls, value: CampaignMode, info: ValidationInfo) -> CampaignMode:
        model = info.data.get("model")
        problem = checks.mode_problem(model, value) if model else None
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("seed_salt")
    @classmethod
    def _check_salt(cls, value: str) -> str:
        return checks.check_template(value, checks.SALT_PLACEHOLDERS, "seed_salt")

    @field_validator("prices")
    @classmethod
    def _check_prices(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        bad = []
        for key in value or {}:
            try:
                checks.check_req_key(key)
            except ValueError as exc:
                bad.append(((key,), str(exc)))
        if bad:
            raise located_error("prices", bad)
        return value

    @field_validator("prompts")
    @classmethod
    def _check_prompts(cls, value: list[Any], info: ValidationInfo) -> list[Any]:
        errors = checks.prompt_errors(
            [p for p in value if isinstance(p, PromptSpec)],
            [i for i, p in enumerate(value) if isinstance(p, PromptSpec)],
            info.data,
        )
        if errors:
            raise located_error("prompts", errors)
        return value

    # -- helpers used by the planner --------------------------------------------------
    @property
    def source(self) -> str:
        """The campaign file (as given to the loader), or ``<campaign>``."""
        return self._source

    def with_source(self, source: str, origins: tuple[tuple[str, str], ...] = ()) -> Campaign:
        """A copy labelled as coming from ``source`` (for problem messages); ``origins``
        gives the ``(file, label)`` of each prompt (a YAML entry or a CSV row)."""
        copy = self.model_copy()
        copy._source = source
        copy._origins = origins
        return copy

    @property
    def reader(self) -> ReferenceReader:
        """The reader of this campaign's reference images (relative to the current folder
        when the campaign was not loaded from a file)."""
        if self._reader is None:
            self._reader = ReferenceReader(Path.cwd())
        return self._reader

    def with_reader(self, reader: ReferenceReader) -> Campaign:
        copy = self.model_copy()
        copy._reader = reader
        return copy

    def images_for(self, prompt: PromptSpec) -> tuple[list[str], bool]:
        """The prompt's reference images and whether they are its own (else the campaign's)."""
        if prompt.images is not None:
            return prompt.images, True
        if prompt.image_urls or prompt.binary_data_base64:
            return [], True
        return list(self.images or []), False

    def prompt_specs(self) -> list[PromptSpec]:
        """The inline prompts (``from_csv`` sources must have been resolved by the loader)."""
        return [p for p in self.prompts if isinstance(p, PromptSpec)]

    def locate(self, index: int, rest: tuple[str | int, ...] = ()) -> tuple[str, str]:
        """``(file, path)`` of prompt ``index`` (+ ``rest``), in the YAML or the CSV file."""
        if index < len(self._origins):
            return locate_origin(self._origins[index], rest)
        return self._source, format_loc(("prompts", index, *rest))

    def req_key_for(self, prompt: PromptSpec) -> str:
        req_key = prompt.model or self.model
        if req_key is None:  # pragma: no cover - rejected by the validator
            raise ValueError(f"prompt {prompt.id!r} has no model")
        return req_key

    def mode_for(self, prompt: PromptSpec) -> Mode:
        """``sync`` or ``async``: the prompt's, else the campaign's; ``auto`` = preferred."""
        mode = prompt.mode or self.mode
        if mode == "auto":
            info = resolve_model(self.req_key_for(prompt))
            return info.preferred_mode if info else "sync"
        return "sync" if mode == "sync" else "async"

    def variants_for(self, prompt: PromptSpec) -> int:
        return prompt.variants or self.variants
