"""``haoee validate | plan | run`` as a user runs them: subprocesses against real parts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli_support import run_haoee
from tests.support import SIM_KEY

pytestmark = pytest.mark.integration

GOOD = """
name: cli-test
model: high_aes_general_v20_L
variants: 3
prompts:
  - id: shoe
    prompt: "a red running shoe"
  - id: bag
    model: high_aes_general_v20
    prompt: "a blue bag"
output:
  bucket: {bucket}
budget:
  max_images: 10
concurrency: 4
qps: 50
"""

BROKEN = {
    "unknown key": ("colour: red\n", "colour"),
    "bad width": ("params: {width: 5000}\n", "params.width"),
    "duplicate id": ("prompts:\n  - {id: a, prompt: x}\n  - {id: a, prompt: y}\n", "prompts[1].id"),
    "missing bucket": ("output: {prefix: x}\n", "output.bucket"),
    "over budget": ("budget: {max_images: 2}\n", "budget.max_images"),
    "over cost": ("budget: {max_cost: 0.5}\n", "budget.max_cost"),
}


def broken_file(tmp_path: Path, bucket: str, patch: str) -> Path:
    """The good campaign with one part replaced (a top-level key added or overridden)."""
    import yaml

    base = yaml.safe_load(GOOD.format(bucket=bucket))
    override = yaml.safe_load(patch)
    if "output" in override and "bucket" not in override["output"]:
        base["output"] = override.pop("output")
    base.update(override)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(base, sort_keys=False))
    return path


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_files_exit_2_and_call_nothing(
    case: str,
    cli_env: dict[str, str],
    sim: Any,
    s3_bucket: Any,
    tmp_path: Path,
) -> None:
    patch, where = BROKEN[case]
    path = broken_file(tmp_path, s3_bucket.bucket_name, patch)
    for command in (["validate", str(path)], ["run", str(path)], ["run", str(path), "--json"]):
        out = run_haoee(*command, env=cli_env)
        assert out.returncode == 2, (command, out.stdout, out.stderr)
        if "--json" in command:
            document = json.loads(out.stdout)
            assert document["exit_code"] == 2
            assert {(p["file"], p["path"]) for p in document["problems"]} >= {(str(path), where)}
        else:
            assert f"{path}: {where}:" in out.stderr, out.stderr
    assert sim.stats()["calls_total"] == 0


def test_missing_bucket_on_s3_exits_2(cli_env: dict[str, str], sim: Any, tmp_path: Path) -> None:
    path = tmp_path / "nobucket.yaml"
    path.write_text(GOOD.format(bucket="no-such-bucket-here"))
    out = run_haoee("run", str(path), env=cli_env)
    assert out.returncode == 2 and "output.bucket" in out.stderr and "does not exist" in out.stderr
    assert sim.stats()["calls_total"] == 0


def test_every_budget_rule_broken_is_reported_and_validate_says_what_plan_says(
    cli_env: dict[str, str], sim: Any, s3_bucket: Any, tmp_path: Path
) -> None:
    """Over max_images and max_cost at once: both problems, from validate (no S3: as a
    first run would spend), plan and run alike, with the same lines."""
    path = broken_file(tmp_path, s3_bucket.bucket_name, "budget: {max_images: 2, max_cost: 0.5}\n")
    said = {}
    for command in ("validate", "plan", "run"):
        out = run_haoee(command, str(path), env=cli_env)
        assert out.returncode == 2, (command, out.stdout, out.stderr)
        said[command] = [row for row in out.stderr.splitlines() if f"{path}: budget." in row]
        assert len(said[command]) == 2, (command, out.stderr)
    assert said["validate"] == said["plan"] == said["run"]
    assert "the 6 paid calls cost 1.20 CNY" in said["plan"][1]
    assert sim.stats()["calls_total"] == 0


def test_no_aws_credentials_and_no_key_are_reported_together(
    cli_env: dict[str, str], sim: Any, s3_bucket: Any, tmp_path: Path
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(GOOD.format(bucket=s3_bucket.bucket_name))
    drop = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "HAOEE_API_KEY")
    env = {name: value for name, value in cli_env.items() if name not in drop}
    env.update(
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"), AWS_CONFIG_FILE=str(tmp_path / "none")
    )
    out = run_haoee("run", str(path), env=env)
    assert out.returncode == 2, out.stderr
    assert "2 problem(s)" in out.stderr, out.stderr
    assert (
        f"{path}: output.bucket: bucket '{s3_bucket.bucket_name}' cannot be read: "
        "no AWS credentials found" in out.stderr
    ), out.stderr
    assert "environment: HAOEE_API_KEY: not set" in out.stderr
    assert sim.stats()["calls_total"] == 0


def test_plan_run_rerun(
    cli_env: dict[str, str],
    sim: Any,
    s3_bucket: Any,
    tmp_path: Path,
) -> None:
    path = tmp_path / "good.yaml"
    path.write_text(GOOD.format(bucket=s3_bucket.bucket_name))

    planned = run_haoee("plan", str(path), "--json", "--date", "2026-11-27", env=cli_env)
    assert planned.returncode == 0, planned.stderr
    plan = json.loads(planned.stdout)
    assert (plan["total"], plan["paid_calls"], plan["stored"]) == (6, 6, 0)
    assert sim.stats()["calls_total"] == 0  # planning calls nothing

    ran = run_haoee("run", str(path), "--json", "--date", "2026-11-27", env=cli_env)
    assert ran.returncode == 0, ran.stderr[-3000:]
    result = json.loads(ran.stdout)
    assert (result["done"], result["failed"], result["paid_calls"]) == (6, 0, 6)
    assert sim.stats()["billable_generations"] == 6
    assert SIM_KEY not in ran.stdout + ran.stderr

    table = run_haoee("run", str(path), "--date", "2026-11-27", env=cli_env)
    assert table.returncode == 0
    assert "6/6 image(s)" in table.stdout and "6 already stored, 0 paid call(s)" in table.stdout
    assert sim.stats()["billable_generations"] == 6  # the rerun paid nothing

    replanned = json.loads(
        run_haoee("plan", str(path), "--json", "--date", "2026-11-27", env=cli_env).stdout
    )
    assert (replanned["paid_calls"], replanned["stored"], replanned["cost"]) == (0, 6, 0)
