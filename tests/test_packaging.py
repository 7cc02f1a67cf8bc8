"""The dependency declarations and the locks made from them (no network).

The runtime stays lean (moto only in the ``demo`` extra, imported only by ``haoee demo``),
and each lock in ``requirements/`` pins, with hashes, everything pyproject asks for.
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
SELF = canonicalize_name(PROJECT["name"])
LOCKS = {"runtime": (), "demo": ("demo",), "test": ("test",)}
DEMO_ONLY = {"moto", "flask", "flask-cors"}


def asked_for(extras: tuple[str, ...]) -> list[Requirement]:
    """pyproject's requirements for the package with these extras (self-references expanded)."""
    found = [Requirement(text) for text in PROJECT["dependencies"]]
    todo, seen = list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for text in PROJECT["optional-dependencies"][extra]:
            req = Requirement(text)
            if canonicalize_name(req.name) == SELF:
                todo.extend(req.extras)
            else:
                found.append(req)
    return found


def parse_lock(name: str) -> dict[str, list[tuple[Version, list[str]]]]:
    """``{package: [(version, hashes), ...]}`` (a universal lock may pin one name twice)."""
    text = (ROOT / "requirements" / f"{name}.txt").read_text().replace("\\\n", " ")
    pins: dict[str, list[tuple[Version, list[str]]]] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement, _, hash_part = line.partition(" --hash=")
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)\s*(;.*)?", requirement.strip())
        assert match, f"requirements/{name}.txt: not a pinned requirement: {line!r}"
        hashes = re.findall(r"sha256:[0-9a-f]{64}", hash_part)
        pins.setdefault(canonicalize_name(match[1]), []).append((Version(match[2]), hashes))
    return pins


def test_moto_and_its_server_are_not_runtime_dependencies() -> None:
    runtime = {canonicalize_name(Requirement(t).name) for t in PROJECT["dependencies"]}
    assert not runtime & DEMO_ONLY
    extras = PROJECT["optional-dependencies"]
    demo = {canonicalize_name(Requirement(t).name) for t in extras["demo"]}
    assert demo >= DEMO_ONLY
    test = [Requirement(t) for t in extras["test"]]
    assert any(canonicalize_name(r.name) == SELF and "demo" in r.extras for r in test)


def test_boto3_is_left_to_prefect_aws() -> None:
    """A boto3 floor of ours let pip pick a boto3 no aiobotocore accepts."""
    runtime = {canonicalize_name(Requirement(t).name) for t in PROJECT["dependencies"]}
    assert not runtime & {"boto3", "botocore", "aiobotocore"}


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_lock_pins_everything_pyproject_asks_for(lock: str) -> None:
    pins = parse_lock(lock)
    for name, versions in pins.items():
        for version, hashes in versions:
            assert hashes, f"requirements/{lock}.txt: {name}=={version} has no hash"
    for req in asked_for(LOCKS[lock]):
        name = canonicalize_name(req.name)
        assert name in pins, f"requirements/{lock}.txt does not pin {req}"
        for version, _ in pins[name]:
            assert req.specifier.contains(version, prereleases=True), (
                f"requirements/{lock}.txt pins {name}=={version}, pyproject asks for {req}"
            )
    assert SELF not in pins  # the project itself is installed from the checkout


def test_runtime_lock_holds_no_demo_package() -> None:
    assert not set(parse_lock("runtime")) & DEMO_ONLY
    assert set(parse_lock("demo")) >= DEMO_ONLY


def test_locks_were_made_from_this_pyproject() -> None:
    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / "lock.sh"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr


def test_only_the_local_s3_command_module_imports_moto_and_only_when_run() -> None:
    """Importing the package (and ``haoee --help``) works without the demo extra: moto is
    imported only inside ``commands/local_s3.py``'s functions (``haoee demo`` and
    ``haoee simulate --with-s3``)."""
    importers = {}
    for path in sorted((ROOT / "prefect_haoee").rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        top_level = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            if any(n == "moto" or n.startswith("moto.") for n in names):
                importers[path.relative_to(ROOT).as_posix()] = id(node) in top_level
    assert set(importers) <= {"prefect_haoee/commands/local_s3.py"}, importers
    assert not any(importers.values()), "moto is imported inside local_s3's functions only"
