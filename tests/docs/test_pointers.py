"""No file of the repository points at what a user of it does not have: numbered tracker
entries, the notes the project was started from, or folders outside the repository. Each
feature is named for what it does instead."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Spelled in pieces so that this file does not match itself.
POINTERS = re.compile(
    "|".join(
        (
            r"\b" + "iss" + r"ues?\s*#?\d+",
            r"\b" + "bri" + r"ef\b",
            r"\.\./" + "sha" + "red",
            r"\b" + "sha" + r"red/api\b",
        )
    ),
    re.IGNORECASE,
)


def tracked_text_files() -> list[Path]:
    names = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    paths = [ROOT / name.decode() for name in names if name]
    return [p for p in paths if p.is_file() and p.parent.name != "requirements"]


def test_no_file_points_at_what_users_lack() -> None:
    found = []
    for path in tracked_text_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:  # images
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if match := POINTERS.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {match.group(0)!r}")
    assert not found, "\n".join(found)


def test_the_check_catches_each_kind() -> None:
    samples = ("see iss" + "ue 17", "as the bri" + "ef says", "../sha" + "red/api/x.md")
    assert all(POINTERS.search(sample) for sample in samples)
    assert not POINTERS.search("S3 briefly unreachable; shared fixtures")
