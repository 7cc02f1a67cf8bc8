"""``from_csv`` prompt sources: read (safely, size-capped), counted, then turned into prompt rows.

A CSV file is read as CSV (``newline=""`` semantics): a quoted cell keeps its line breaks,
``\\r\\n`` and U+2028 included. Rows are named by the line they start on (the header is
row 1). The file is counted before any row is built, so that a campaign above its item
limit is refused without building anything. No message quotes more of the file than a
short, sanitized excerpt (:func:`prefect_haoee.campaigns.files.excerpt`), and none holds a
secret of the environment.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from prefect_haoee.campaigns.errors import Problem, clean_loc, error_message, locate_origin
from prefect_haoee.campaigns.files import (
    CampaignFileError,
    excerpt,
    read_campaign_file,
    scrub_secrets,
)
from prefect_haoee.campaigns.spec import PromptSpec

CSV_COLUMNS = ("id", "prompt", "model", "images")
IMAGES_SEPARATOR = ";"
Origin = tuple[str, str]


@dataclass(frozen=True)
class CsvText:
    """A read CSV file: its text and how many data records it has (blank lines apart)."""

    file: str
    text: str
    records: int
    size: int
    """Bytes read."""


def read_csv_text(
    name: str, *, base_dir: Path, roots: tuple[Path, ...], max_bytes: int
) -> tuple[CsvText | None, str | None]:
    """The CSV file ``name`` read inside ``roots`` and counted, or why it cannot be."""
    try:
        data = read_campaign_file(
            name, base_dir=base_dir, roots=roots, max_bytes=max_bytes, what="CSV file"
        )
    except CampaignFileError as exc:
        return None, str(exc)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return None, f"CSV file {name!r} is not UTF-8 text (byte {exc.start})"
    file = str(base_dir / name)
    try:
        records = sum(1 for _line, cells in _records(text) if any(c.strip() for c in cells))
    except csv.Error as exc:
        return None, f"CSV file {name!r} is not valid CSV ({exc})"
    return CsvText(file, text, max(records - 1, 0), len(data)), None


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """``(first line, cells)`` of each record."""
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 1
    for cells in reader:
        yield start, cells
        start = reader.line_num + 1


def csv_prompt_rows(
    source: CsvText, campaign_file: str, at: str
) -> tuple[list[tuple[Origin, dict[str, Any]]], list[Problem]]:
    """The rows of a read CSV file as prompt dicts with their origins, and its problems."""
    rows, problems = _rows(source, campaign_file, at)
    return rows, [Problem(p.file, p.path, scrub_secrets(p.message)) for p in problems]


def _rows(
    source: CsvText, campaign_file: str, at: str
) -> tuple[list[tuple[Origin, dict[str, Any]]], list[Problem]]:
    file = source.file
    records = _records(source.text)
    try:
        _line, first = next(records, (1, []))
        header = [cell.strip() for cell in first]
        missing = [name for name in ("id", "prompt") if name not in header]
        if missing:
            found = excerpt(",".join(header)) or "nothing"
            message = f"header row required: id,prompt[,model][,images] (found {found!r})"
            return [], [Problem(file, "row 1", message)]
        problems: list[Problem] = []
        for column in header:
            if column not in CSV_COLUMNS:
                shown = excerpt(column, 24)
                message = f"unknown column {shown!r} (allowed: id, prompt, model, images)"
                problems.append(Problem(file, f"row 1, column {shown}", message))
        if len(set(header)) != len(header):
            problems.append(Problem(file, "row 1", "a column is named twice in the header"))
        rows: list[tuple[Origin, dict[str, Any]]] = []
        for line, cells in records:
            label = f"row {line}"
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
    except csv.Error as exc:  # pragma: no cover - counted (and refused) by read_csv_text
        return [], [Problem(file, "(file)", f"not valid CSV ({exc})")]
    if not rows and not problems:
        problems.append(Problem(campaign_file, at, f"CSV file {file} has no prompt rows"))
    return rows, problems
