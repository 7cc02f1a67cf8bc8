"""``haoee ... --help`` as a user reads it: flags bare, options that take a value typed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_support import clean_env, run_haoee


@pytest.mark.parametrize("command", [["--help"], ["demo", "--help"], ["validate", "--help"]])
def test_flags_show_no_value_type(command: list[str], tmp_path: Path) -> None:

    out = run_haoee(*command, env=clean_env(tmp_path), timeout=60)
    assert out.returncode == 0, out.stderr
    assert "<bool>" not in out.stdout, out.stdout
    assert "--help" in out.stdout


def test_options_with_a_value_keep_their_type(tmp_path: object) -> None:

    out = run_haoee("simulate", "--help", env=clean_env(tmp_path), timeout=60)
    assert "<int>" in out.stdout and "<bool>" not in out.stdout, out.stdout
