"""Every campaign a user is shown passes ``haoee validate`` as the user would run it: the
files under ``deployments/`` and the campaign blocks of README.md and ``docs/*.md``
(budget included, so no example schedules more than it allows)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from tests.cli_support import clean_env, run_haoee

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "deployments" / "campaigns"
BLOCK = re.compile(r"```yaml\n(.*?)```", re.S)


def campaign_files() -> list[Path]:
    return sorted(p for p in (ROOT / "deployments").rglob("*.yaml") if p.name != "prefect.yaml")


def doc_blocks() -> list[tuple[str, str]]:
    found = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for number, body in enumerate(BLOCK.findall(doc.read_text(encoding="utf-8"))):
            data = yaml.safe_load(body)
            if isinstance(data, dict) and "prompts" in data:
                found.append((f"{doc.name}-{number}", body))
    return found


def test_there_are_examples_to_check() -> None:
    assert len(campaign_files()) >= 2 and len(doc_blocks()) >= 2


@pytest.mark.parametrize("path", campaign_files(), ids=lambda p: p.name)
def test_campaign_file_validates(path: Path, tmp_path: Path) -> None:
    out = run_haoee("validate", str(path), env=clean_env(tmp_path), timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("name,body", doc_blocks(), ids=[name for name, _ in doc_blocks()])
def test_doc_campaign_validates(name: str, body: str, tmp_path: Path) -> None:
    """The block as a file next to the example campaigns' files (brand/, prompts.csv)."""
    folder = tmp_path / "campaigns"
    shutil.copytree(EXAMPLES, folder)
    path = folder / f"{name}.yaml"
    path.write_text(body, encoding="utf-8")
    out = run_haoee("validate", str(path), env=clean_env(tmp_path), timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


def test_no_example_pays_for_a_placeholder_reference() -> None:
    """A scheduled example sends paid calls: none may carry a stand-in such as an
    example.com image (the model would be paid to fail, or to keep nobody's face)."""
    texts = [p.read_text(encoding="utf-8") for p in campaign_files()]
    texts += [body for _, body in doc_blocks()]
    assert not [text for text in texts if "example.com" in text or "example.org" in text]
