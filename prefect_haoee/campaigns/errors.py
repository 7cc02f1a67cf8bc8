"""Campaign problems: one ``Problem`` per broken rule, all raised together as ``CampaignError``.

A problem names the file it was found in, where in that file (``prompts[3].params.width``
for YAML, ``row 4, column prompt`` for a CSV file, ``line 7, column 3`` for a YAML syntax
error) and the rule broken. ``str(CampaignError)`` prints one ``FILE: PATH: MESSAGE`` line
per problem, so a user fixes them all in one go.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Sequence
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Any

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

# Union tags of ``Campaign.prompts``: pydantic puts them in error locations; users never see them.
PROMPT_TAG = "PromptSpec"
CSV_TAG = "CsvPromptSource"
_HIDDEN_LOC_PARTS = frozenset({PROMPT_TAG, CSV_TAG})


@dataclass(frozen=True)
class Problem:
    """One broken rule: ``file`` (path as given), ``path`` inside it, and ``message``."""

    file: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.path}: {self.message}"

    def as_dict(self) -> dict[str, str]:
        return {"file": self.file, "path": self.path, "message": self.message}


class CampaignError(ValueError):
    """Every problem found in a campaign (its file, CSV files, request parameters)."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: list[Problem] = unique(problems)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(problem) for problem in self.problems)

    def as_dicts(self) -> list[dict[str, str]]:
        """The problems as JSON-ready dicts (for ``--json`` output)."""
        return [problem.as_dict() for problem in self.problems]


class BudgetExceededError(CampaignError):
    """The plan is over ``budget.max_images`` or ``budget.max_cost``: nothing may be called."""


def unique(problems: Iterable[Problem]) -> list[Problem]:
    """Problems in order, each reported once (a campaign parameter can break many items)."""
    seen: set[Problem] = set()
    out: list[Problem] = []
    for problem in problems:
        if problem not in seen:
            seen.add(problem)
            out.append(problem)
    return out


def located_error(
    title: str, errors: Sequence[tuple[tuple[str | int, ...], str]]
) -> ValidationError:
    """A ``ValidationError`` with one error per ``(loc, message)``; raise it from a validator
    and pydantic prefixes the outer location (``prompts`` + ``(3, "id")``)."""
    details = [
        InitErrorDetails(
            type=PydanticCustomError("value_error", "{reason}", {"reason": message}),
            loc=loc,
            input=None,
        )
        for loc, message in errors
    ]
    return ValidationError.from_exception_data(title, details)


def close_matches(word: str, choices: Iterable[str], n: int = 3) -> str:
    """``'a', 'b' or 'c'`` for the choices close to ``word`` (empty when none is close)."""
    found = [repr(c) for c in get_close_matches(word, list(choices), n=n, cutoff=0.6)]
    return " or ".join([", ".join(found[:-1]), found[-1]] if len(found) > 1 else found)


def format_loc(loc: Sequence[str | int]) -> str:
    """``("prompts", 3, "params", "width")`` -> ``prompts[3].params.width``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in _HIDDEN_LOC_PARTS:
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


def clean_loc(loc: Sequence[str | int]) -> tuple[str | int, ...]:
    """An error location without the union tags pydantic inserts."""
    return tuple(part for part in loc if part not in _HIDDEN_LOC_PARTS)


def error_message(
    error: Any, allowed_keys: Iterable[str] = (), param_names: Container[str] = ()
) -> str:
    """A short message for one pydantic error dict (``ValidationError.errors()`` item).

    An unknown key gets close matches among ``allowed_keys``, or a pointer to ``params``
    when it is one of ``param_names`` (a model parameter written in the wrong place).
    """
    kind = error.get("type", "")
    loc = error.get("loc", ())
    key = loc[-1] if loc else ""
    if kind == "extra_forbidden":
        if key in param_names:
            return f"unknown key {key!r}: model parameters go under 'params'"
        hint = close_matches(str(key), allowed_keys)
        allowed = ", ".join(sorted(allowed_keys))
        tail = f"; did you mean {hint}?" if hint else (f" (allowed: {allowed})" if allowed else "")
        return f"unknown key {key!r}{tail}"
    if kind == "missing":
        return f"required key {key!r} is missing"
    message = str(error.get("msg", "invalid value"))
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    return message


def validation_problems(
    exc: ValidationError,
    file: str,
    allowed_keys: Callable[[tuple[str | int, ...]], Iterable[str]] | None = None,
    param_names: Container[str] = (),
) -> list[Problem]:
    """One problem per pydantic error, located with :func:`format_loc`.

    ``allowed_keys(parent_loc)`` names the keys valid where an unknown key was met (for
    "did you mean" hints); ``parent_loc`` still holds the union tags.
    """
    problems = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        allowed = allowed_keys(loc[:-1]) if allowed_keys is not None else ()
        message = error_message(error, allowed, param_names)
        problems.append(Problem(file, format_loc(loc) or "(top level)", message))
    return problems


def locate_origin(origin: tuple[str, str], rest: tuple[str | int, ...]) -> tuple[str, str]:
    """``("p.csv", "row 4")`` + ``("prompt",)`` -> ``("p.csv", "row 4, column prompt")``."""
    file, label = origin
    if label.startswith("row "):
        if rest and rest[0] in ("id", "prompt", "model", "images"):
            tail = f" [{rest[1]}]" if len(rest) > 1 else ""
            return file, f"{label}, column {rest[0]}{tail}"
        return file, f"{label}: {format_loc(rest)}" if rest else label
    return file, format_loc((label, *rest)) if rest else label
