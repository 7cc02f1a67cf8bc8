"""Load a campaign file: YAML -> ``Campaign``, ``from_csv`` rows resolved, every request checked.

Every problem found is collected and raised as one :class:`CampaignError` whose lines read
``FILE: PATH: MESSAGE``. Checks run in three passes, each reporting all it finds:

1. the YAML itself (size, syntax with line and column, nesting depth, duplicate keys);
2. the campaign structure (unknown keys, names, bucket, placeholders, ids, models, modes);
   then the number of work items, counted before any is built (``HAOEE_CAMPAIGN_MAX_ITEMS``
   refuses at once; above ``budget.max_images`` the file is refused once its CSV rows are
   read, ``max_cost`` checked with it: :mod:`~prefect_haoee.campaigns.budget`); then each
   ``from_csv`` file (inside the allowed directories, a regular file under the size cap,
   header, columns, rows, duplicate ids);
3. each item's request against its model (ranges such as ``prompts[3].params.width``,
   image counts, base64) - only once passes 1 and 2 are clean.

Campaign files are untrusted (:mod:`prefect_haoee.campaigns.limits` has the caps,
:mod:`prefect_haoee.campaigns.files` the safe reading). Nothing here calls the network.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from prefect_haoee.campaigns.budget import first_run_problems
from prefect_haoee.campaigns.checks import RESERVED_PARAMS
from prefect_haoee.campaigns.csv_source import CsvText, csv_prompt_rows, read_csv_text
from prefect_haoee.campaigns.errors import (
    CSV_TAG,
    PROMPT_TAG,
    BudgetExceededError,
    CampaignError,
    Problem,
    clean_loc,
    error_message,
    format_loc,
    locate_origin,
    validation_problems,
)
from prefect_haoee.campaigns.files import CampaignFileError, read_regular_file
from prefect_haoee.campaigns.item_count import check_item_count
from prefect_haoee.campaigns.limits import CampaignLimits
from prefect_haoee.campaigns.plan import check_items
from prefect_haoee.campaigns.references import ReferenceReader
from prefect_haoee.campaigns.spec import (
    BudgetSpec,
    Campaign,
    CsvPromptSource,
    OutputSpec,
    PromptSpec,
    ReferencesSpec,
    ScheduleSpec,
)
from prefect_haoee.client.requests import REQUEST_CLASSES

_MODELS_AT: dict[tuple[str, ...], type[BaseModel]] = {
    (): Campaign,
    ("prompts", PROMPT_TAG): PromptSpec,
    ("prompts", CSV_TAG): CsvPromptSource,
    ("output",): OutputSpec,
    ("budget",): BudgetSpec,
    ("schedule",): ScheduleSpec,
    ("references",): ReferencesSpec,
}
# Fields of the request models: written outside 'params', they get a pointer to 'params'.
_PARAM_NAMES = (
    frozenset(name for cls in REQUEST_CLASSES.values() for name in cls.model_fields)
    - frozenset(PromptSpec.model_fields)
    - frozenset(RESERVED_PARAMS)
)
_BASE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser when present: fast, and it refuses nesting deeper than 1,000 levels."""

Origin = tuple[str, str]


class _Loader(_BASE_LOADER):  # type: ignore[misc]
    """``yaml.safe_load`` that also records duplicate mapping keys (YAML keeps the last)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[str, int, int]] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _value in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *anchor` merge keys: merged entries may be overridden
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, str | int | float | bool) and key in seen:
                mark = key_node.start_mark
                self.duplicates.append((str(key), mark.line + 1, mark.column + 1))
            seen.add(key)
        result: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return result


def load_campaign(
    path: str | Path,
    *,
    allowed_roots: Sequence[Path] = (),
    limits: CampaignLimits | None = None,
    check_objects: bool = True,
) -> Campaign:
    """Read, validate and resolve the campaign file at ``path``.

    Files it names (``from_csv``) must lie in its directory, in one of ``allowed_roots`` or
    in one of ``HAOEE_CAMPAIGN_FILE_ROOTS``; ``limits`` defaults to ``CampaignLimits()``.
    Reference images are read and checked (once: the campaign keeps what it read for
    planning); ``check_objects=False`` leaves S3 objects unread (no network).
    """
    limits = limits or CampaignLimits()
    path = Path(path)
    text = read_campaign_text(path, limits)
    return parse_campaign(
        read_yaml(text, str(path)),
        str(path),
        path.parent,
        allowed_roots=allowed_roots,
        limits=limits,
        check_objects=check_objects,
    )


def read_campaign_text(path: Path, limits: CampaignLimits | None = None) -> str:
    """The text of a campaign file: a regular file under the size cap, UTF-8."""
    limits = limits or CampaignLimits()
    source = str(path)
    try:
        real = path.resolve(strict=True)
        data = read_regular_file(
            real, max_bytes=limits.max_file_bytes, what="campaign file", name=path
        )
    except FileNotFoundError:
        raise CampaignError([Problem(source, "(file)", "campaign file not found")]) from None
    except (OSError, RuntimeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "symlink loop"
        raise CampaignError([Problem(source, "(file)", f"cannot read: {reason}")]) from None
    except CampaignFileError as exc:
        message = f"{exc} (HAOEE_CAMPAIGN_MAX_FILE_BYTES)" if "limit" in str(exc) else str(exc)
        raise CampaignError([Problem(source, "(file)", message)]) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        message = f"the campaign file is not UTF-8 text (byte {exc.start})"
        raise CampaignError([Problem(source, "(file)", message)]) from None


def read_yaml(text: str, source: str) -> Any:
    """Parse YAML (safe types only); syntax errors, nesting deeper than the parser allows
    and duplicate keys raise ``CampaignError``."""
    loader = _Loader(text)
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        reason = " ".join(part for part in (exc.context, exc.problem) if part)
        raise CampaignError([Problem(source, where, f"YAML syntax error: {reason}")]) from None
    except yaml.YAMLError as exc:
        raise CampaignError([Problem(source, "(file)", f"YAML error: {exc}")]) from None
    except RecursionError:
        message = "the YAML is nested too deeply to be read"
        raise CampaignError([Problem(source, "(file)", message)]) from None
    finally:
        loader.dispose()
    if loader.duplicates:
        raise CampaignError(
            [
                Problem(source, f"line {line}, column {col}", f"duplicate key {key!r}")
                for key, line, col in loader.duplicates
            ]
        )
    return data


def parse_campaign(
    data: Any,
    source: str,
    base_dir: Path,
    *,
    allowed_roots: Sequence[Path] = (),
    limits: CampaignLimits | None = None,
    check_objects: bool = True,
) -> Campaign:
    """Validate parsed YAML ``data`` (``source`` names it in problems; ``from_csv`` and
    local ``images`` paths are relative to ``base_dir``; CSV files must lie in it or in
    ``allowed_roots``), resolve CSV prompts and check every request (reference images
    included; S3 objects only with ``check_objects``)."""
    try:
        return _parse(
            data,
            source,
            base_dir,
            tuple(allowed_roots),
            limits or CampaignLimits(),
            check_objects=check_objects,
        )
    except RecursionError:
        message = "the campaign is nested too deeply to be checked"
        raise CampaignError([Problem(source, "(file)", message)]) from None


def _parse(
    data: Any,
    source: str,
    base_dir: Path,
    allowed_roots: tuple[Path, ...],
    limits: CampaignLimits,
    *,
    check_objects: bool,
) -> Campaign:
    if data is None:
        raise CampaignError([Problem(source, "(file)", "the campaign file is empty")])
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise CampaignError(
            [Problem(source, "(top level)", f"a campaign is a mapping of keys, got {kind}")]
        )
    raw_prompts = data.get("prompts")
    if isinstance(raw_prompts, list) and len(raw_prompts) > limits.max_items:
        message = f"{len(raw_prompts):,} prompts, above the limit of {limits.max_items:,} items"
        raise CampaignError([Problem(source, "prompts", message)])
    try:
        draft = Campaign.model_validate(data).with_source(source)
    except ValidationError as exc:
        found = validation_problems(exc, source, _allowed_keys, _PARAM_NAMES)
        raise CampaignError(found) from None

    csv_texts, problems = _read_csv_sources(draft, source, base_dir, allowed_roots, limits)
    if problems:
        raise CampaignError(problems)
    try:
        check_item_count(draft, {i: t.records for i, t in csv_texts.items()}, limits.max_items)
        over_budget = False
    except BudgetExceededError:  # reported once the rows are known, with max_cost too
        over_budget = True

    entries: list[Any] = []
    origins: list[Origin] = []
    for index, entry in enumerate(draft.prompts):
        if isinstance(entry, PromptSpec):
            entries.append(raw_prompts[index])  # type: ignore[index]
            origins.append((source, f"prompts[{index}]"))
            continue
        at = format_loc(("prompts", index, "from_csv"))
        rows, csv_problems = csv_prompt_rows(csv_texts[index], source, at)
        problems.extend(csv_problems)
        for row_origin, row in rows:
            entries.append(row)
            origins.append(row_origin)
    del csv_texts
    problems.extend(_duplicate_ids(entries, origins))
    if problems:
        raise CampaignError(problems)

    try:
        campaign = Campaign.model_validate({**data, "prompts": entries})
    except ValidationError as exc:
        raise CampaignError(_resolved_problems(exc, source, origins)) from None
    reader = ReferenceReader(base_dir, read_objects=check_objects)
    campaign = campaign.with_source(source, tuple(origins)).with_reader(reader)
    del entries, origins  # the rows live on as the campaign's prompts only
    if over_budget:  # before any item is built: a campaign over max_images may be huge
        raise BudgetExceededError(first_run_problems(campaign))
    check_items(campaign, date.today(), max_items=limits.max_items)  # CampaignError if invalid
    return campaign


def _read_csv_sources(
    draft: Campaign,
    source: str,
    base_dir: Path,
    allowed_roots: tuple[Path, ...],
    limits: CampaignLimits,
) -> tuple[dict[int, CsvText], list[Problem]]:
    """Each ``from_csv`` file read and counted (not parsed into rows yet). All of them
    together stay under ``max_file_bytes``."""
    roots = limits.roots_for(base_dir, allowed_roots)
    budget = limits.max_file_bytes
    texts: dict[int, CsvText] = {}
    problems: list[Problem] = []
    for index, entry in enumerate(draft.prompts):
        if not isinstance(entry, CsvPromptSource):
            continue
        at = format_loc(("prompts", index, "from_csv"))
        if budget <= 0:
            message = (
                f"the CSV files of this campaign are above {limits.max_file_bytes:,} bytes "
                "together (HAOEE_CAMPAIGN_MAX_FILE_BYTES)"
            )
            problems.append(Problem(source, at, message))
            break
        text, problem = read_csv_text(
            entry.from_csv, base_dir=base_dir, roots=roots, max_bytes=budget
        )
        if text is None:
            problems.append(Problem(source, at, problem or "cannot read the CSV file"))
            continue
        budget -= text.size
        texts[index] = text
    return texts, problems


def _duplicate_ids(entries: list[Any], origins: list[Origin]) -> list[Problem]:
    """Prompt ids used twice across the YAML prompts and every CSV row."""
    first: dict[str, Origin] = {}
    problems = []
    for entry, origin in zip(entries, origins, strict=True):
        prompt_id = entry.get("id") if isinstance(entry, dict) else None
        if not isinstance(prompt_id, str):
            continue
        if prompt_id in first:
            other = first[prompt_id]
            where = other[1] if other[0] == origin[0] else f"{other[0]} {other[1]}"
            problems.append(
                Problem(
                    *locate_origin(origin, ("id",)),
                    f"duplicate prompt id {prompt_id!r}: also used by {where}",
                )
            )
        else:
            first[prompt_id] = origin
    return problems


def _resolved_problems(exc: ValidationError, source: str, origins: list[Origin]) -> list[Problem]:
    """Problems of the campaign with CSV rows inlined, mapped back to their files."""
    problems = []
    for error in exc.errors():
        loc = clean_loc(error["loc"])
        if len(loc) >= 2 and loc[0] == "prompts" and isinstance(loc[1], int):
            where = locate_origin(origins[loc[1]], loc[2:])
        else:
            where = (source, format_loc(loc) or "(top level)")
        problems.append(Problem(*where, error_message(error)))
    return problems


def _allowed_keys(parent: tuple[str | int, ...]) -> Iterable[str]:
    key = tuple(part for part in parent if isinstance(part, str))
    model = _MODELS_AT.get(key)
    return model.model_fields if model is not None else ()
