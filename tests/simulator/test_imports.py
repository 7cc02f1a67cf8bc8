"""The simulator keeps its own checks: its code imports neither Prefect nor the client's
request models (only the shared req_key catalog)."""

from __future__ import annotations

import ast
from pathlib import Path

import prefect_haoee.simulator

SIMULATOR_DIR = Path(prefect_haoee.simulator.__file__).parent
CLI = SIMULATOR_DIR.parent / "cli.py"


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_simulator_imports_only_the_catalog_from_the_client() -> None:
    files = sorted(SIMULATOR_DIR.rglob("*.py"))  # the families too
    assert len(files) > 10
    for path in files:
        for name in _imported_modules(path):
            assert name != "prefect" and not name.startswith("prefect."), (path.name, name)
            if name.startswith("prefect_haoee.") and not name.startswith("prefect_haoee.simulator"):
                assert name == "prefect_haoee.client.catalog", (path.name, name)


def test_cli_module_top_imports_no_prefect() -> None:
    tree = ast.parse(CLI.read_text(encoding="utf-8"))
    for node in tree.body:  # module level only: commands import lazily
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            assert not any(n and (n == "prefect" or n.startswith("prefect.")) for n in names)
