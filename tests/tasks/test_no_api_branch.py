"""The task and flow layers ask no question about which gateway API a request speaks.

Every request declares its family, kind, billed model and step names, and the client's
job protocol (``generate``, ``submit_job``, ``wait_generation``) takes a request of any
API: a branch on the API above the client is a second protocol growing back.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import prefect_haoee

PACKAGE = Path(prefect_haoee.__file__).parent
FORBIDDEN = {
    "api_of": re.compile(r"\bapi_of\b"),
    "VISUAL_API": re.compile(r"\bVISUAL_API\b"),
    "isinstance on a request base": re.compile(
        r"isinstance\([^)]*\b(VisualRequest|FamilyRequest|AnyVisualRequest)\b"
    ),
    "a family compared by name": re.compile(r"\.family\s*[!=]=\s*['\"]"),
    "a handle type of one API": re.compile(r"\bSubmittedGeneration\b"),
}


def layer_files() -> list[Path]:
    return sorted(p for layer in ("tasks", "flows") for p in (PACKAGE / layer).rglob("*.py"))


def test_the_layers_exist() -> None:
    names = {p.name for p in layer_files()}
    assert {"item_runner.py", "campaign.py"} <= names


@pytest.mark.parametrize("what", sorted(FORBIDDEN))
def test_no_module_of_tasks_or_flows_branches_on_the_api(what: str) -> None:
    pattern = FORBIDDEN[what]
    found = [
        f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
        for path in layer_files()
        if path.name != "step_json.py" or what != "a handle type of one API"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert not found, f"{what} in the task layer:\n" + "\n".join(found)


def test_the_check_sees_a_branch() -> None:
    """The patterns match what they forbid (a check that cannot fail checks nothing)."""
    samples = {
        "api_of": "if api_of(request) == x:",
        "VISUAL_API": "VISUAL_API",
        "isinstance on a request base": "if isinstance(request, VisualRequest):",
        "a family compared by name": 'if request.family == "visual":',
        "a handle type of one API": "SubmittedGeneration(",
    }
    assert all(FORBIDDEN[what].search(line) for what, line in samples.items())
