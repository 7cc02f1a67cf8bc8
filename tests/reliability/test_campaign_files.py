"""Campaign files as untrusted input: sizes, nesting, paths, CSV files, numbers.

A deployment may run campaign files that users commit, so a file must not be able to read
the machine (``/dev/zero``, ``/proc/self/environ``, ``/etc/passwd``), to exhaust it
(``variants: 1000000000``, a 200,000-row CSV, 100 MB of inline base64, 5,000 nesting
levels), to print a secret, or to write outside its S3 prefix. Each hostile file is loaded
in a child process capped at 1.5 GB of address space and a timeout, so that a regression
fails the test instead of the machine.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from prefect_haoee.campaigns import CampaignError, load_campaign
from tests.reliability.support import HAOEE, cap_memory, load_in_child

pytestmark = pytest.mark.reliability

MODEL = "high_aes_general_v20_L"
FACE_MODEL = "high_aes_ip_v20"
KEY = "sk-rel13-Zq8Vw2Lp5Nx7Kd4Rt9"


def campaign(prompts: list[Any], **extra: Any) -> dict[str, Any]:
    return {
        "name": "hostile",
        "model": MODEL,
        "params": {"width": 512, "height": 512},
        "prompts": prompts,
        "output": {"bucket": "some-bucket"},
        **extra,
    }


def write(path: Path, doc: Any) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=10**9))
    return path


def problems_of(path: Path, **kwargs: Any) -> list[dict[str, str]]:
    with pytest.raises(CampaignError) as info:
        load_campaign(path, **kwargs)
    return info.value.as_dicts()


def assert_problem(problems: list[dict[str, str]], path: str, message: str) -> None:
    assert any(path in p["path"] and message.lower() in p["message"].lower() for p in problems), (
        problems
    )


# -- 13.2 CSV is read as CSV ---------------------------------------------------------------


def test_quoted_multiline_csv_prompt_is_kept_whole(tmp_path: Path) -> None:
    text = 'id,prompt\nm,"a shoe\non asphalt\u2028at dusk"\nn,"two\r\nlines"\n'
    (tmp_path / "p.csv").write_bytes(text.encode("utf-8"))
    loaded = load_campaign(write(tmp_path / "c.yaml", campaign([{"from_csv": "p.csv"}])))
    prompts = {p.id: p.prompt for p in loaded.prompt_specs()}
    assert prompts == {"m": "a shoe\non asphalt\u2028at dusk", "n": "two\r\nlines"}


def test_csv_rows_are_named_by_the_line_they_start_on(tmp_path: Path) -> None:
    (tmp_path / "p.csv").write_text('id,prompt\nm,"two\nlines"\nbad id!,x\n', encoding="utf-8")
    problems = problems_of(write(tmp_path / "c.yaml", campaign([{"from_csv": "p.csv"}])))
    assert [p["path"] for p in problems] == ["row 4, column id"]


# -- 13.8 only regular files, size-capped before they are read ----------------------------


def _inline_image_file(path: Path, decoded_bytes: int) -> Path:
    """A campaign with one inline image of ``decoded_bytes`` zero bytes, written as text
    (the YAML emitter would take minutes on 100 MB)."""
    data = base64.b64encode(b"\0" * decoded_bytes).decode()
    doc = campaign([{"id": "f", "model": FACE_MODEL, "prompt": "x", "binary_data_base64": ["B64"]}])
    path.write_text(yaml.safe_dump(doc, sort_keys=False).replace("B64", data))
    return path


def hostile_file(name: str, tmp_path: Path) -> tuple[Path, str, str]:
    """The campaign file of case ``name``, the problem path and a message fragment."""
    one = [{"id": "a", "prompt": "x"}]
    at_csv = "prompts[0].from_csv"
    if name == "dev-zero":
        return write(tmp_path / "c.yaml", campaign([{"from_csv": "/dev/zero"}])), at_csv, "/dev"
    if name == "fifo":
        os.mkfifo(tmp_path / "pipe.csv")
        return write(tmp_path / "c.yaml", campaign([{"from_csv": "pipe.csv"}])), at_csv, "FIFO"
    if name == "directory":
        (tmp_path / "folder.csv").mkdir()
        doc = campaign([{"from_csv": "folder.csv"}])
        return write(tmp_path / "c.yaml", doc), at_csv, "directory"
    if name == "variants-1e9":
        return write(tmp_path / "c.yaml", campaign(one, variants=10**9)), "variants", "limit"
    if name == "variants-1e9-budget":
        doc = campaign(one, variants=10**9, budget={"max_images": 10})
        return write(tmp_path / "c.yaml", doc), "budget.max_images", "max_images 10"
    if name == "csv-200k-rows":
        with open(tmp_path / "rows.csv", "w", encoding="utf-8") as out:
            out.write("id,prompt\n")
            out.writelines(f"p{i},a red running shoe number {i}\n" for i in range(200_000))
        return write(tmp_path / "c.yaml", campaign([{"from_csv": "rows.csv"}])), at_csv, "limit"
    if name == "base64-100mb":  # above the campaign file's size cap
        return _inline_image_file(tmp_path / "c.yaml", 75_000_000), "(file)", "limit"
    if name == "base64-6mb-image":  # under the file cap, above the gateway's image limit
        path = _inline_image_file(tmp_path / "c.yaml", 6_000_000)
        return path, "prompts[0].binary_data_base64", "4.7 MB"
    assert name == "nested-5000"
    path = tmp_path / "deep.yaml"
    path.write_text("name: deep\nprompts: " + "[" * 5000 + "]" * 5000 + "\n")
    return path, "line 2", "nest"


HOSTILE = [
    "dev-zero",
    "fifo",
    "directory",
    "variants-1e9",
    "variants-1e9-budget",
    "csv-200k-rows",
    "base64-100mb",
    "base64-6mb-image",
    "nested-5000",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_file_is_refused_at_once_in_little_memory(name: str, tmp_path: Path) -> None:
    path, where, message = hostile_file(name, tmp_path)
    result = load_in_child(path)
    assert result["ok"] is False
    assert_problem(result["problems"], where, message)
    assert {p["file"] for p in result["problems"]} == {str(path)}
    assert result["seconds"] < 1.0, result
    assert result["max_rss_kb"] < 400_000, result


def test_campaign_file_and_csv_above_the_cap_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = "id,prompt\n" + "".join(f"p{i},prompt {i}\n" for i in range(200))
    (tmp_path / "p.csv").write_text(rows)
    path = write(tmp_path / "c.yaml", campaign([{"from_csv": "p.csv"}]))
    monkeypatch.setenv("HAOEE_CAMPAIGN_MAX_FILE_BYTES", "1000")
    assert_problem(problems_of(path), "prompts[0].from_csv", "above the limit of 1,000 bytes")
    monkeypatch.setenv("HAOEE_CAMPAIGN_MAX_FILE_BYTES", "100")
    assert_problem(problems_of(path), "(file)", "above the limit of 100 bytes")


# -- 13.9 referenced files stay inside the campaign's directory; no secret is echoed ------


def test_files_outside_the_campaign_directory_are_refused(tmp_path: Path) -> None:
    home = tmp_path / "campaigns"
    home.mkdir()
    (tmp_path / "other.csv").write_text("id,prompt\na,x\n")
    (home / "link.csv").symlink_to(tmp_path / "other.csv")
    for name in ("/etc/passwd", "../other.csv", "link.csv", str(tmp_path / "other.csv")):
        problems = problems_of(write(home / "c.yaml", campaign([{"from_csv": name}])))
        assert_problem(problems, "prompts[0].from_csv", "outside the allowed directories")
        assert "root:" not in json.dumps(problems)


def test_an_allowed_directory_may_hold_the_csv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, allowed = tmp_path / "campaigns", tmp_path / "allowed"
    home.mkdir()
    allowed.mkdir()
    (allowed / "p.csv").write_text("id,prompt\na,x\n")
    path = write(home / "c.yaml", campaign([{"from_csv": "../allowed/p.csv"}]))
    assert [p.id for p in load_campaign(path, allowed_roots=[allowed]).prompt_specs()] == ["a"]
    monkeypatch.setenv("HAOEE_CAMPAIGN_FILE_ROOTS", f"{tmp_path / 'nothing'}{os.pathsep}{allowed}")
    assert [p.id for p in load_campaign(path).prompt_specs()] == ["a"]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "HAOEE_API_KEY": KEY,
        "AWS_SECRET_ACCESS_KEY": "aws-" + KEY[::-1],
        "HAOEE_BASE_URL": "http://127.0.0.1:9",
        "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9",
    }
    return subprocess.run(
        [HAOEE, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=env,
        preexec_fn=cap_memory,
    )


def test_no_command_prints_the_environment_or_a_secret_from_a_csv(
    tmp_path: Path, exposed: Any
) -> None:
    (tmp_path / "header.csv").write_text(f"HAOEE_API_KEY={KEY},prompt\na,x\n")
    (tmp_path / "cells.csv").write_text(f"id,prompt\n{KEY}!,x\nb,x,{KEY}\n")
    files = {
        "environ": campaign([{"from_csv": "/proc/self/environ"}]),
        "header": campaign([{"from_csv": "header.csv"}]),
        "cells": campaign([{"from_csv": "cells.csv"}]),
    }
    for name, doc in files.items():
        path = write(tmp_path / f"{name}.yaml", doc)
        for args in (("validate", str(path)), ("plan", str(path), "--json")):
            done = _cli(*args, cwd=tmp_path)
            text = done.stdout + done.stderr
            exposed.add(f"campaign-files:{name}:{args[0]}", text)
            assert done.returncode == 2, (name, args, text[-2000:])
            assert "Traceback" not in text
            for fragment in (KEY[:8], KEY[-8:], KEY[::-1][:8], "PATH=", "HOME="):
                assert fragment not in text, (name, args, text[-2000:])


# -- 13.10 numbers are finite; nesting is bounded ------------------------------------------


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"prices": {MODEL: float("inf")}}, "prices"),
        ({"prices": {MODEL: float("nan")}}, "prices"),
        ({"budget": {"max_cost": float("inf")}}, "budget.max_cost"),
        ({"budget": {"max_cost": float("nan")}}, "budget.max_cost"),
        ({"qps": float("inf")}, "qps"),
    ],
)
def test_prices_budgets_and_rates_are_finite(
    changes: dict[str, Any], where: str, tmp_path: Path
) -> None:
    path = write(tmp_path / "c.yaml", campaign([{"id": "a", "prompt": "x"}], **changes))
    assert_problem(problems_of(path), where, "finite")


def test_deeply_nested_file_exits_2_with_a_located_message(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from prefect_haoee.cli import app

    path = tmp_path / "deep.yaml"
    path.write_text("name: deep\nprompts:\n" + "".join(" " * i + "- \n" for i in range(5000)))
    result = CliRunner().invoke(app, ["validate", str(path)], catch_exceptions=False)
    assert result.exit_code == 2, result.output
    assert f"{path}: line " in result.stderr and "nest" in result.stderr


# -- 13.11 the output prefix stays under the bucket root ----------------------------------


@pytest.mark.parametrize(
    ("prefix", "message"),
    [
        ("../escape/{name}", "'..'"),
        ("campaigns/../{name}", "'..'"),
        ("/campaigns/{name}", "leading '/'"),
        ("campaigns//{name}", "empty segment"),
        ("campaigns/./{name}", "'.'"),
        ("campaigns/{name}\n/x", "control character"),
    ],
)
def test_output_prefix_cannot_escape_or_make_odd_keys(
    prefix: str, message: str, tmp_path: Path
) -> None:
    doc = campaign([{"id": "a", "prompt": "x"}], output={"bucket": "some-bucket", "prefix": prefix})
    assert_problem(problems_of(write(tmp_path / "c.yaml", doc)), "output.prefix", message)


def test_a_plain_prefix_with_placeholders_is_still_fine(tmp_path: Path) -> None:
    prefix = "campaigns/{name}/{date}/{prompt_id}-{variant}/"
    doc = campaign([{"id": "a", "prompt": "x"}], output={"bucket": "some-bucket", "prefix": prefix})
    started = time.monotonic()
    assert load_campaign(write(tmp_path / "c.yaml", doc)).output.prefix == prefix
    assert time.monotonic() - started < 5
