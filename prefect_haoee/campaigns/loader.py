"""Load a campaign file: YAML -> ``Campaign``, ``from_csv`` rows resolved, every request checked.

Every problem found is collected and raised as one :class:`CampaignError` whose lines read
``FILE: PATH: MESSAGE``. Checks run in three passes, each reporting all it finds:

1. the YAML itself (syntax, with line and column; duplicate keys);
2. the campaign structure (unknown keys, names, bucket, placeholders, ids, models, modes);
   then each ``from_csv`` file (missing file, header, columns, rows, duplicate ids);
3. each item's request against its model (ranges such as ``prompts[3].params.width``,
   image counts, base64) - only once passes 1 and 2 are clean.

Nothing here calls the network.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from prefect_haoee.campaigns.checks import RESERVED_PARAMS
from prefect_haoee.campaigns.errors import (
    CSV_TAG,
    PROMPT_TAG,
    CampaignError,
    Problem,
    clean_loc,
    error_message,
    format_loc,
    locate_origin,
    validation_problems,
)
from prefect_haoee.campaigns.plan import expand
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

CSV_COLUMNS = ("id", "prompt", "model", "images")
IMAGES_SEPARATOR = ";"
_MODELS_AT: dict[tuple[str, ...], type[BaseModel]] = {
    (): Campaign,
    ("prompts", PROMPT_TAG): PromptSpec,
    ("prompts", CSV_TAG): CsvPromptSource,
    ("output",): OutputSpec,
    ("references",): ReferencesSpec,
    ("budget",): BudgetSpec,
    ("schedule",): ScheduleSpec,
}
# Fields of the request models: written outside 'params', they get a pointer to 'params'.
_PARAM_NAMES = (
    frozenset(name for cls in REQUEST_CLASSES.values() for name in cls.model_fields)
    - frozenset(PromptSpec.model_fields)
    - frozenset(RESERVED_PARAMS)
)

Origin = tuple[str, str]


class _Loader(yaml.SafeLoader):
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
        return super().construct_mapping(node, deep=deep)


def load_campaign(path: str | Path, *, check_objects: bool = True) -> Campaign:
    """Read, validate and resolve the campaign file at ``path``.

    Reference images are read and checked (once: the campaign keeps what it read for
    planning); ``check_objects=False`` leaves S3 objects unread (no network)."""
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CampaignError([Problem(source, "(file)", "campaign file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CampaignError([Problem(source, "(file)", f"cannot read: {exc}")]) from None
    return parse_campaign(read_yaml(text, source), source, path.parent, check_objects=check_objects)


def read_yaml(text: str, source: str) -> Any:
    """Parse YAML (safe types only); syntax errors and duplicate keys raise ``CampaignError``."""
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
    data: Any, source: str, base_dir: Path, *, check_objects: bool = True
) -> Campaign:
    """Validate parsed YAML ``data`` (``source`` names it in problems; ``from_csv`` and
    local ``images`` paths are relative to ``base_dir``), resolve CSV prompts and check
    every request (reference images included; S3 objects only with ``check_objects``)."""
    if data is None:
        raise CampaignError([Problem(source, "(file)", "the campaign file is empty")])
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise CampaignError(
            [Problem(source, "(top level)", f"a campaign is a mapping of keys, got {kind}")]
        )
    try:
        draft = Campaign.model_validate(data)
    except ValidationError as exc:
        found = validation_problems(exc, source, _allowed_keys, _PARAM_NAMES)
        raise CampaignError(found) from None

    raw_prompts: list[Any] = list(data["prompts"])
    entries: list[Any] = []
    origins: list[Origin] = []
    problems: list[Problem] = []
    for index, entry in enumerate(draft.prompts):
        if isinstance(entry, PromptSpec):
            entries.append(raw_prompts[index])
            origins.append((source, f"prompts[{index}]"))
            continue
        rows, csv_problems = read_csv_prompts(entry.from_csv, base_dir, source, index)
        problems.extend(csv_problems)
        for row_origin, row in rows:
            entries.append(row)
            origins.append(row_origin)
    problems.extend(_duplicate_ids(entries, origins))
    if problems:
        raise CampaignError(problems)

    try:
        campaign = Campaign.model_validate({**data, "prompts": entries})
    except ValidationError as exc:
        raise CampaignError(_resolved_problems(exc, source, origins)) from None
    reader = ReferenceReader(base_dir, read_objects=check_objects)
    campaign = campaign.with_source(source, tuple(origins)).with_reader(reader)
    expand(campaign, date.today())  # raises CampaignError for invalid requests
    return campaign


def read_csv_prompts(
    relpath: str, base_dir: Path, source: str, index: int
) -> tuple[list[tuple[Origin, dict[str, Any]]], list[Problem]]:
    """Rows of a ``from_csv`` file as prompt dicts with their origins, and its problems.

    Rows are named by their line number in the file (the header is row 1).
    """
    at = format_loc(("prompts", index, "from_csv"))
    path = base_dir / relpath
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return [], [Problem(source, at, f"CSV file not found: {path}")]
    except (OSError, UnicodeDecodeError) as exc:
        return [], [Problem(source, at, f"cannot read CSV file {path}: {exc}")]
    file = str(path)
    reader = csv.reader(text.splitlines())
    header = [cell.strip() for cell in next(reader, [])]
    problems: list[Problem] = []
    missing = [name for name in ("id", "prompt") if name not in header]
    if missing:
        found = ",".join(header) or "nothing"
        message = f"header row required: id,prompt[,model][,images] (found {found!r})"
        return [], [Problem(file, "row 1", message)]
    for column in header:
        if column not in CSV_COLUMNS:
            message = f"unknown column {column!r} (allowed: id, prompt, model, images)"
            problems.append(Problem(file, f"row 1, column {column}", message))
    if len(set(header)) != len(header):
        problems.append(Problem(file, "row 1", "a column is named twice in the header"))
    rows: list[tuple[Origin, dict[str, Any]]] = []
    for cells in reader:
        label = f"row {reader.line_num}"
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            message = f"expected {len(header)} cells like the header, got {len(cells)}"
            problems.append(Problem(file, label, message))
            continue
        row: dict[str, Any] = {
            name: cell.strip()
            for name, cell in zip(header, cells, strict=True)
            if name in CSV_COLUMNS and not (name in ("model", "images") and not cell.strip())
        }
        if "images" in row:
            row["images"] = [part.strip() for part in row["images"].split(IMAGES_SEPARATOR)]
        try:
            PromptSpec.model_validate(row)
        except ValidationError as exc:
            for error in exc.errors():
                where = locate_origin((file, label), clean_loc(error["loc"]))
                problems.append(Problem(*where, error_message(error)))
            continue
        rows.append(((file, label), row))
    if not rows and not problems:
        problems.append(Problem(source, at, f"CSV file {path} has no prompt rows"))
    return rows, problems


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
