"""What a newcomer meets first: no Prefect for --help/validate/plan, --version, --json,
shell completion, ``haoee models``, and a missing key found once before anything runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.cli_support import aws_env, clean_env, run_haoee
from tests.support import free_port

pytestmark = pytest.mark.integration

THREE = """
name: three-prompts
model: high_aes_general_v20_L
prompts:
  - {id: a, prompt: "a red shoe"}
  - {id: b, prompt: "a blue bag"}
  - {id: c, prompt: "a green hat"}
output:
  bucket: BUCKET
"""

# Runs the CLI in-process, then reports which top-level packages it loaded.
MODULES = """
import json, runpy, sys
sys.argv = ["haoee", *sys.argv[1:]]
try:
    runpy.run_module("prefect_haoee", run_name="__main__")
except SystemExit as exc:
    code = exc.code
loaded = sorted({name.split(".")[0] for name in sys.modules})
print(json.dumps({"exit": code, "loaded": loaded}), file=sys.stderr)
"""

FORBIDDEN = {"prefect", "prefect_aws", "moto"}


def env_for(s3_server: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    return clean_env(tmp_path, **aws_env(s3_server), **extra)


def loaded_by(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", MODULES, *args], capture_output=True, text=True, env=env, timeout=120
    )
    report: dict[str, Any] = json.loads(done.stderr.strip().splitlines()[-1])
    return report


def test_help_validate_and_plan_load_no_prefect(
    s3_server: str, s3_bucket: Any, tmp_path: Path
) -> None:
    path = tmp_path / "three.yaml"
    path.write_text(THREE.replace("BUCKET", s3_bucket.bucket_name))
    env = env_for(s3_server, tmp_path, HAOEE_API_KEY="k")
    for args in (["--help"], ["validate", str(path)], ["plan", str(path), "--json"]):
        report = loaded_by(args, env)
        assert report["exit"] in (0, None), (args, report)
        assert not FORBIDDEN & set(report["loaded"]), (args, FORBIDDEN & set(report["loaded"]))
    planned = run_haoee("plan", str(path), "--json", env=env)
    assert planned.returncode == 0, planned.stderr
    assert json.loads(planned.stdout)["paid_calls"] == 3


def test_version_completion_and_validate_json(tmp_path: Path) -> None:
    from prefect_haoee import __version__

    env = env_for("http://127.0.0.1:9", tmp_path)
    assert run_haoee("--version", env=env).stdout.strip() == f"prefect-haoee {__version__}"
    assert "--install-completion" in run_haoee("--help", env=env).stdout
    good = tmp_path / "good.yaml"
    good.write_text(THREE.replace("BUCKET", "some-bucket"))
    ok = run_haoee("validate", str(good), "--json", env=env)
    assert ok.returncode == 0 and json.loads(ok.stdout) == {
        "ok": True,
        "exit_code": 0,
        "file": str(good),
        "campaign": "three-prompts",
    }
    bad = tmp_path / "bad.yaml"
    bad.write_text(THREE.replace("BUCKET", "some-bucket") + "colour: red\n")
    refused = run_haoee("validate", str(bad), "--json", env=env)
    document = json.loads(refused.stdout)
    assert refused.returncode == 2 and document["exit_code"] == 2
    assert [p["path"] for p in document["problems"]] == ["colour"]


def test_models_lists_family_modes_seed_images_and_price(tmp_path: Path) -> None:
    env = env_for("http://127.0.0.1:9", tmp_path)
    done = run_haoee("models", "--json", env=env)
    assert done.returncode == 0, done.stderr
    rows = {row["name"]: row for row in json.loads(done.stdout)["models"]}
    pro = rows["high_aes_general_v20_L"]
    assert (pro["family"], pro["modes"], pro["seed"], pro["price"]) == (
        "visual",
        ["sync", "async"],
        True,
        0.2,
    )
    assert {row["family"] for row in rows.values()} >= {"visual", "sora", "suno"}
    table = run_haoee("models", env=env)
    assert table.returncode == 0 and "jimeng_t2i_v30" in table.stdout


def test_missing_api_key_is_found_once_before_the_flow(
    s3_server: str, s3_bucket: Any, tmp_path: Path
) -> None:
    path = tmp_path / "three.yaml"
    path.write_text(THREE.replace("BUCKET", s3_bucket.bucket_name))
    # A closed Prefect API: had the run gone on, it would have ended with exit 3.
    closed = f"http://127.0.0.1:{free_port()}/api"
    env = env_for(s3_server, tmp_path, PREFECT_API_URL=closed)
    ran = run_haoee("run", str(path), env=env)
    assert ran.returncode == 2, ran.stderr
    assert ran.stderr.count("HAOEE_API_KEY") == 1 and "Traceback" not in ran.stderr
    as_json = json.loads(run_haoee("run", str(path), "--json", env=env).stdout)
    assert [p["path"] for p in as_json["problems"]] == ["HAOEE_API_KEY"]
    planned = run_haoee("plan", str(path), "--json", env=env)
    assert planned.returncode == 0
    assert any("HAOEE_API_KEY" in w for w in json.loads(planned.stdout)["warnings"])
