"""Broken campaign files and request params through ``haoee run``: exit 2, the field named,
zero gateway calls.

Every case runs the real command (typer's CliRunner, in process: a subprocess per case
would cost ~2 s of imports each; one case runs as a real subprocess too) with
``HAOEE_BASE_URL`` on a simulator whose ledger must stay empty, and ``AWS_*`` on the
session's moto server (a valid file would reach S3 and then the gateway).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from prefect_haoee.simulator.config import SimulatorConfig
from prefect_haoee.simulator.server import SimulatorHandle, run_simulator
from tests.campaigns.support import DELETE, changed
from tests.cli_support import aws_env
from tests.reliability.support import (
    HAOEE,
    REL_KEY,
    client_env,
    s3_client,
    set_env,
    subprocess_env,
    write_yaml,
)

pytestmark = pytest.mark.reliability

BUCKET = "rel-bad-input"
PNG_1PX = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
)

BASE: dict[str, Any] = {
    "name": "bad-input",
    "model": "high_aes_general_v20_L",
    "params": {"width": 512, "height": 512},
    "variants": 2,
    "prompts": [
        {"id": "shoe", "prompt": "a red running shoe"},
        {
            "id": "face",
            "model": "high_aes_ip_v20",
            "prompt": "the same person hiking",
            "image_urls": ["https://example.com/ref.jpg"],
        },
    ],
    "output": {"bucket": BUCKET},
    "budget": {"max_images": 50, "max_cost": 100.0},
}


@dataclass(frozen=True)
class Case:
    id: str
    path: str
    """The field a problem must name (substring of the problem's path)."""
    message: str
    """A fragment of that problem's message (case-insensitive)."""
    changes: dict[str, Any] = field(default_factory=dict)
    text: str | None = None
    """Raw file text instead of ``BASE`` + ``changes``."""
    files: dict[str, str] = field(default_factory=dict)
    """Extra files next to the campaign (CSV prompt sources)."""


def campaign_dict(changes: dict[str, Any]) -> dict[str, Any]:
    """``BASE`` with dotted-path changes (list indexes as numbers; ``DELETE`` removes)."""
    return changed(BASE, changes)


CASES: list[Case] = [
    # -- the file itself -------------------------------------------------------------------
    Case("empty-file", "(file)", "empty", text=""),
    Case("yaml-syntax", "line 3", "yaml syntax error", text="name: x\nprompts: [a, b\n"),
    Case("not-a-mapping", "(top level)", "mapping", text="- a\n- b\n"),
    Case("duplicate-key", "line 2", "duplicate key 'name'", text="name: a\nname: b\n"),
    # -- campaign structure ----------------------------------------------------------------
    Case("no-name", "name", "required", {"name": DELETE}),
    Case("bad-name", "name", "campaign name", {"name": "Spring Launch!"}),
    Case("unknown-key", "promts", "unknown key", {"promts": []}),
    Case("no-prompts", "prompts", "required", {"prompts": DELETE}),
    Case("empty-prompts", "prompts", "at least 1", {"prompts": []}),
    Case("unknown-model", "model", "nope_v9", {"model": "nope_v9"}),
    Case("bad-mode", "mode", "'auto', 'sync' or 'async'", {"mode": "sometimes"}),
    Case("variants-zero", "variants", "greater than or equal to 1", {"variants": 0}),
    Case("concurrency-zero", "concurrency", "greater than or equal to 1", {"concurrency": 0}),
    Case("concurrency-huge", "concurrency", "less than or equal to 64", {"concurrency": 1000}),
    Case("qps-zero", "qps", "greater than 0", {"qps": 0}),
    Case("tags-not-list", "tags", "list", {"tags": "launch"}),
    Case("salt-placeholder", "seed_salt", "{user}", {"seed_salt": "{user}-x"}),
    Case("price-unknown-model", "prices", "nope_v9", {"prices": {"nope_v9": 0.1}}),
    Case(
        "schedule-both",
        "schedule",
        "exactly one",
        {"schedule": {"cron": "0 9 * * *", "interval_seconds": 60}},
    ),
    Case("schedule-cron", "schedule.cron", "minute", {"schedule": {"cron": "61 * * * *"}}),
    Case(
        "schedule-tz",
        "schedule.timezone",
        "Mars/Olympus",
        {"schedule": {"cron": "0 9 * * *", "timezone": "Mars/Olympus"}},
    ),
    # -- output -----------------------------------------------------------------------------
    Case("no-output", "output", "required", {"output": DELETE}),
    Case("bad-bucket-name", "output.bucket", "bucket", {"output.bucket": "Marketing_Assets"}),
    Case("prefix-placeholder", "output.prefix", "{user}", {"output.prefix": "c/{user}"}),
    Case("prefix-empty", "output.prefix", "empty", {"output.prefix": "/"}),
    # -- budget -----------------------------------------------------------------------------
    Case(
        "budget-negative", "budget.max_cost", "greater than or equal to 0", {"budget.max_cost": -1}
    ),
    Case("over-max-images", "budget", "max_images", {"budget.max_images": 3}),
    Case("over-max-cost", "budget", "max_cost", {"budget.max_cost": 0.01}),
    # -- prompts ----------------------------------------------------------------------------
    Case("bad-prompt-id", "prompts[0].id", "prompt id", {"prompts.0.id": "red shoe!"}),
    Case("duplicate-prompt-id", "prompts[1].id", "duplicate prompt id", {"prompts.1.id": "shoe"}),
    Case("empty-prompt-text", "prompts[0].prompt", "empty", {"prompts.0.prompt": "   "}),
    Case("prompt-unknown-model", "prompts[1].model", "nope_v9", {"prompts.1.model": "nope_v9"}),
    Case(
        "prompt-variants-neg",
        "prompts[0].variants",
        "greater than or equal to 1",
        {"prompts.0.variants": -1},
    ),
    Case("seed-below", "prompts[0].seed", "greater than or equal to -1", {"prompts.0.seed": -5}),
    Case("seed-above", "prompts[0].seed", "less than or equal to", {"prompts.0.seed": 2**31}),
    Case("param-outside-params", "prompts[0].width", "under 'params'", {"prompts.0.width": 512}),
    Case("unsupported-mode", "prompts[1].mode", "async", {"prompts.1.mode": "async"}),
    # -- request parameters (checked against each model) ----------------------------------
    Case("width-too-big", "prompts[0].params.width", "768", {"prompts.0.params": {"width": 4096}}),
    Case(
        "width-not-int",
        "prompts[0].params.width",
        "integer",
        {"prompts.0.params": {"width": "big"}},
    ),
    Case("campaign-width-small", "params.width", "256", {"params.width": 16}),
    Case(
        "scale-out-of-range", "prompts[0].params.scale", "10", {"prompts.0.params": {"scale": 99}}
    ),
    Case("reserved-param", "params.seed", "seed", {"params.seed": 7}),
    Case(
        "unknown-param",
        "prompts[0].params.colour",
        "colour",
        {"prompts.0.params": {"colour": "red"}},
    ),
    Case("missing-image", "prompts[1]", "image", {"prompts.1.image_urls": DELETE}),
    Case(
        "too-many-images",
        "prompts[1]",
        "image",
        {"prompts.1.image_urls": ["https://e.com/a.jpg", "https://e.com/b.jpg"]},
    ),
    Case(
        "bad-base64",
        "prompts[1]",
        "base64",
        {"prompts.1.image_urls": DELETE, "prompts.1.binary_data_base64": ["***"]},
    ),
    # -- CSV prompt sources -----------------------------------------------------------------
    Case(
        "csv-missing", "prompts[2].from_csv", "not found", {"prompts.2": {"from_csv": "nope.csv"}}
    ),
    Case(
        "csv-header",
        "row 1",
        "header",
        {"prompts.2": {"from_csv": "p.csv"}},
        files={"p.csv": "name,text\nx,y\n"},
    ),
    Case(
        "csv-row",
        "row 3",
        "expected 2 cells",
        {"prompts.2": {"from_csv": "p.csv"}},
        files={"p.csv": "id,prompt\nok,a fine prompt\nbad,two,extra\n"},
    ),
]


@pytest.fixture(scope="module")
def quiet_sim() -> Any:
    """A simulator that must never be called by any case of this module."""
    with run_simulator(SimulatorConfig(api_keys=(REL_KEY,), latency_ms=0, seed=1)) as sim:
        yield sim


@pytest.fixture
def bad_env(
    quiet_sim: SimulatorHandle, s3_server: str, monkeypatch: pytest.MonkeyPatch
) -> SimulatorHandle:
    s3_client(s3_server).create_bucket(Bucket=BUCKET)
    quiet_sim.reset(seed=1)
    set_env(monkeypatch, client_env(quiet_sim.base_url))
    set_env(monkeypatch, aws_env(s3_server))
    return quiet_sim


def write_case(tmp_path: Path, case: Case) -> Path:
    for name, text in case.files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    path = tmp_path / "campaign.yaml"
    if case.text is not None:
        path.write_text(case.text, encoding="utf-8")
        return path
    return write_yaml(path, campaign_dict(case.changes))


def run_cli(*args: str) -> Any:
    from typer.testing import CliRunner

    from prefect_haoee.cli import app

    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_the_base_campaign_is_valid(tmp_path: Path, bad_env: SimulatorHandle) -> None:
    path = write_yaml(tmp_path / "ok.yaml", campaign_dict({}))
    result = run_cli("plan", str(path), "--json")
    assert result.exit_code == 0, result.output
    assert bad_env.stats()["calls_total"] == 0  # planning never calls the gateway


def test_at_least_30_cases() -> None:
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_broken_campaign_is_refused_naming_the_field(
    case: Case, tmp_path: Path, bad_env: SimulatorHandle, exposed: Any
) -> None:
    path = write_case(tmp_path, case)
    result = run_cli("run", str(path), "--json")
    exposed.add(f"bad-input:{case.id}", result.output)
    assert result.exit_code == 2, result.output
    document = json.loads(result.stdout)
    assert document["ok"] is False and document["exit_code"] == 2
    problems = document["problems"]
    assert any(
        case.path in p["path"] and case.message.lower() in p["message"].lower() for p in problems
    ), problems
    assert bad_env.stats()["calls_total"] == 0


def test_human_output_names_the_field(tmp_path: Path, bad_env: SimulatorHandle) -> None:
    case = next(c for c in CASES if c.id == "width-too-big")
    path = write_case(tmp_path, case)
    result = run_cli("run", str(path))
    assert result.exit_code == 2
    assert "prompts[0].params.width" in result.stderr and "nothing was called" in result.stderr
    assert bad_env.stats()["calls_total"] == 0


def test_missing_bucket_is_refused_by_the_real_command(
    prefect_server: str,
    state_dir: Path,
    s3_server: str,
    tmp_path: Path,
    bad_env: SimulatorHandle,
    exposed: Any,
) -> None:
    """A valid file whose bucket does not exist on the S3 server: ``haoee run`` as a real
    subprocess exits 2 naming ``output.bucket``, before any gateway call."""
    path = write_yaml(tmp_path / "nobucket.yaml", campaign_dict({"output.bucket": "no-such-bkt"}))
    env = subprocess_env(prefect_server, state_dir, bad_env.base_url, s3_server)
    done = subprocess.run(
        [HAOEE, "run", str(path), "--json"], env=env, capture_output=True, timeout=120
    )
    exposed.add("bad-input:nobucket-out", done.stdout)
    exposed.add("bad-input:nobucket-err", done.stderr)
    assert done.returncode == 2, done.stderr.decode(errors="replace")[-3000:]
    problems = json.loads(done.stdout)["problems"]
    assert [p["path"] for p in problems] == ["output.bucket"]
    assert "does not exist" in problems[0]["message"]
    assert bad_env.stats()["calls_total"] == 0


@pytest.mark.parametrize(
    ("env", "code", "where"),
    [
        ({"HAOEE_LOCK_LEASE_SECONDS": "-3"}, 2, "HAOEE_LOCK_LEASE_SECONDS"),
        ({"HAOEE_LOCK_WAIT_SECONDS": "soon"}, 2, "HAOEE_LOCK_WAIT_SECONDS"),
        ({"HAOEE_LOCK_URL": "zookeeper://h"}, 2, "HAOEE_LOCK_URL"),
        ({"HAOEE_LOCK_URL": "redis://127.0.0.1:9/0"}, 3, "HAOEE_LOCK_URL"),
    ],
)
def test_ledger_settings_that_cannot_be_used_stop_the_run_before_any_call(
    tmp_path: Path,
    bad_env: SimulatorHandle,
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    code: int,
    where: str,
) -> None:
    """A bad ``HAOEE_LOCK_*`` is one located problem (exit 2); a Redis ledger that does not
    answer is unreachable (exit 3): both before the flow, nothing called."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    path = write_yaml(tmp_path / "ok.yaml", campaign_dict({}))
    result = run_cli("run", str(path), "--json")
    assert result.exit_code == code, result.output
    document = json.loads(result.stdout)
    assert document["ok"] is False and document["exit_code"] == code
    shown = json.dumps(document)
    assert where in shown, shown
    assert bad_env.stats()["calls_total"] == 0
