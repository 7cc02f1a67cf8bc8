"""``haoee serve DIR`` and ``haoee deploy DIR --pool NAME``: campaign files as deployments.

``campaign_deployments`` is checked as a pure function; ``haoee deploy`` and ``haoee serve``
run as subprocesses against the session's Prefect server.
"""

from __future__ import annotations

import contextlib
import signal
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from prefect_haoee.campaigns import CampaignError
from prefect_haoee.cli import app
from prefect_haoee.commands.campaign_files import scan_campaigns
from prefect_haoee.commands.deployments import campaign_deployments
from tests.commands.processes import started
from tests.deployments.support import (
    BIN,
    ENTRYPOINT,
    FLOW_NAME,
    campaign_yaml,
    parts_env,
    prefect_env,
    run,
)

CRON = 'schedule: {cron: "15 8 * * 1-5", timezone: Asia/Shanghai}\n'
INTERVAL = "schedule: {interval_seconds: 3600}\n"
NOT_A_CAMPAIGN = "name: some-tool-config\nsettings: {a: 1}\n"
BROKEN = campaign_yaml("broken-one", "bucket-x", extra="colour: red\n")


def write_campaigns(directory: Path, prefix: str, bucket: str = "haoee-test-bucket") -> Path:
    """Two campaigns (cron + timezone; interval), a non-campaign YAML file and a text file."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "morning.yaml").write_text(campaign_yaml(f"{prefix}-cron", bucket, schedule=CRON))
    (directory / "hourly.yml").write_text(
        campaign_yaml(f"{prefix}-interval", bucket, schedule=INTERVAL)
    )
    (directory / "tool.yaml").write_text(NOT_A_CAMPAIGN)
    (directory / "notes.txt").write_text("not yaml")
    return directory


def check_deployment(deployment: Any, name: str, path: str, prefix: str) -> None:
    """Fields common to a RunnerDeployment and a deployment read back from the API."""
    from prefect.client.schemas.objects import ConcurrencyLimitStrategy
    from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule

    assert deployment.entrypoint == ENTRYPOINT
    assert deployment.parameters == {"campaign": path}
    assert deployment.tags == ["haoee", "test", name]
    assert deployment.description == f"Test campaign {name}"
    assert deployment.enforce_parameter_schema is True
    assert deployment.concurrency_options is not None
    assert deployment.concurrency_options.collision_strategy == ConcurrencyLimitStrategy.ENQUEUE
    assert len(deployment.schedules) == 1
    schedule = deployment.schedules[0].schedule
    if name == f"{prefix}-cron":
        assert isinstance(schedule, CronSchedule)
        assert (schedule.cron, schedule.timezone) == ("15 8 * * 1-5", "Asia/Shanghai")
    else:
        assert isinstance(schedule, IntervalSchedule)
        assert schedule.interval == timedelta(hours=1)


# -- campaign_deployments: pure -----------------------------------------------------------


def test_campaign_deployments_build_one_per_campaign_file(tmp_path: Path) -> None:
    directory = write_campaigns(tmp_path / "campaigns", "unit")
    deployments = campaign_deployments(directory)

    assert [d.name for d in deployments] == ["unit-interval", "unit-cron"]  # file name order
    files = {"unit-cron": "morning.yaml", "unit-interval": "hourly.yml"}
    for deployment in deployments:
        path = str((directory / files[deployment.name]).resolve())
        check_deployment(deployment, deployment.name, path, "unit")
        assert deployment.flow_name == FLOW_NAME
        assert deployment.concurrency_limit == 1
        assert deployment.work_pool_name is None  # served: no work pool
    scan = scan_campaigns(directory)
    assert scan.skipped == [directory / "tool.yaml"]


def test_campaign_deployments_without_schedule_and_with_worker_dir(tmp_path: Path) -> None:
    (tmp_path / "plain.yaml").write_text(campaign_yaml("plain", "bucket-x"))
    [deployment] = campaign_deployments(tmp_path, worker_dir="/srv/campaigns/")
    assert deployment.schedules == []
    assert deployment.parameters == {"campaign": "/srv/campaigns/plain.yaml"}


def test_campaign_deployments_report_every_bad_file(tmp_path: Path) -> None:
    write_campaigns(tmp_path, "bad")
    (tmp_path / "broken.yaml").write_text(BROKEN)
    (tmp_path / "syntax.yaml").write_text("name: [unclosed\n")
    (tmp_path / "twin.yaml").write_text(campaign_yaml("bad-cron", "bucket-x"))
    with pytest.raises(CampaignError) as caught:
        campaign_deployments(tmp_path)
    text = str(caught.value)
    assert "broken.yaml: colour" in text
    assert "syntax.yaml: line 2" in text and "YAML syntax error" in text
    assert "twin.yaml: name: campaign name 'bad-cron' is also used by morning.yaml" in text
    assert "tool.yaml" not in text


@pytest.mark.parametrize("what", ["empty", "missing"])
def test_campaign_deployments_need_campaign_files(tmp_path: Path, what: str) -> None:
    directory = tmp_path if what == "empty" else tmp_path / "nope"
    with pytest.raises(CampaignError, match="no campaign files|not a directory"):
        campaign_deployments(directory)


# -- haoee serve / deploy: input errors exit 2 before any Prefect call --------------------


def test_haoee_serve_invalid_directory_exits_2(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text(BROKEN)
    runner = CliRunner()
    result = runner.invoke(app, ["serve", str(tmp_path)])
    assert result.exit_code == 2
    assert "colour" in result.output and "broken.yaml" in result.output

    result = runner.invoke(app, ["serve", str(tmp_path / "missing")])
    assert result.exit_code == 2
    assert "not a directory" in result.output


# -- haoee deploy against the Prefect server ----------------------------------------------


@pytest.fixture(scope="module")
def test_pool(prefect_server: str) -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    with get_client(sync_client=True) as client, contextlib.suppress(ObjectAlreadyExists):
        client.create_work_pool(WorkPoolCreate(name="haoee-test", type="process"))
    return "haoee-test"


@pytest.mark.integration
def test_haoee_deploy_registers_the_campaigns_on_a_pool(
    prefect_server: str, state_dir: Path, test_pool: str, tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client

    directory = write_campaigns(tmp_path / "campaigns", "pool")
    env = prefect_env(prefect_server, state_dir)
    done = run(BIN / "haoee", "deploy", directory, "--pool", test_pool, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Deployed 2 campaign(s) to work pool '{test_pool}'" in done.stdout
    assert f"{FLOW_NAME}/pool-cron" in done.stdout and "15 8 * * 1-5 (Asia/Shanghai)" in done.stdout
    assert "skipped" in done.stderr and "tool.yaml" in done.stderr

    files = {"pool-cron": "morning.yaml", "pool-interval": "hourly.yml"}
    with get_client(sync_client=True) as client:
        for name, file_name in files.items():
            deployment = client.read_deployment_by_name(f"{FLOW_NAME}/{name}")
            check_deployment(deployment, name, str((directory / file_name).resolve()), "pool")
            assert deployment.work_pool_name == test_pool
            assert deployment.global_concurrency_limit is not None
            assert deployment.global_concurrency_limit.limit == 1
            assert not deployment.pull_steps  # the installed package; no code to fetch


@pytest.mark.integration
def test_haoee_deploy_invalid_file_deploys_nothing(test_pool: str, tmp_path: Path) -> None:
    """In process (CliRunner, the session's Prefect settings): exit 2 on a bad campaign file,
    exit 1 on a missing work pool; nothing is deployed either way."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    (tmp_path / "good.yaml").write_text(campaign_yaml("never-deployed", "bucket-x", schedule=CRON))
    (tmp_path / "broken.yaml").write_text(BROKEN)
    runner = CliRunner()
    result = runner.invoke(app, ["deploy", str(tmp_path), "--pool", test_pool])
    assert result.exit_code == 2, result.output
    assert "broken.yaml: colour" in result.output

    (tmp_path / "broken.yaml").unlink()
    result = runner.invoke(app, ["deploy", str(tmp_path), "--pool", "no-such-pool"])
    assert result.exit_code == 1, result.output
    assert "work pool 'no-such-pool' not found" in result.output

    # No Prefect server configured: nothing to deploy to (exit 2, nothing called).
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        result = runner.invoke(app, ["deploy", str(tmp_path), "--pool", test_pool])
    assert result.exit_code == 2, result.output
    assert "PREFECT_API_URL is not set" in result.output

    with get_client(sync_client=True) as client, pytest.raises(ObjectNotFound):
        client.read_deployment_by_name(f"{FLOW_NAME}/never-deployed")


# -- haoee serve: serves, runs a campaign, stops -------------------------------------------


@pytest.mark.integration
def test_haoee_serve_runs_a_campaign(
    prefect_server: str,
    state_dir: Path,
    sim: Any,
    s3_server: str,
    s3_bucket: Any,
    tmp_path: Path,
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    directory = tmp_path / "served"
    directory.mkdir()
    (directory / "served.yaml").write_text(
        campaign_yaml("served", s3_bucket.bucket_name, schedule=INTERVAL)
    )
    env = prefect_env(prefect_server, state_dir, **parts_env(sim, s3_server))
    env["PREFECT_RUNNER_POLL_FREQUENCY"] = "1"  # pick the run up within 1 s (default 10 s)
    command = [str(BIN / "haoee"), "serve", str(directory)]
    with started(command, env, "terminal", cwd=tmp_path) as serve:
        with get_client(sync_client=True) as client:
            deployment = None
            deadline = time.monotonic() + 60
            while deployment is None and time.monotonic() < deadline:
                assert serve.process.poll() is None, "haoee serve exited early"
                try:
                    deployment = client.read_deployment_by_name(f"{FLOW_NAME}/served")
                except ObjectNotFound:
                    time.sleep(0.3)
            assert deployment is not None, "served deployment never appeared"
            assert deployment.parameters == {"campaign": str(directory / "served.yaml")}
            flow_run = client.create_flow_run_from_deployment(
                deployment.id, parameters={"run_date": "2002-03-04"}
            )
            state = None
            while time.monotonic() < deadline:
                state = client.read_flow_run(flow_run.id).state
                if state is not None and state.is_final():
                    break
                time.sleep(0.3)
            assert state is not None and state.is_completed(), state
        serve.signal(signal.SIGTERM, group=True)
        code = serve.wait(timeout=30)
    output = serve.output()
    assert "Serving 1 campaign(s)" in output
    assert code == 0, output
    listed = s3_bucket.credentials.get_s3_client().list_objects_v2(
        Bucket=s3_bucket.bucket_name, Prefix="campaigns/served/2002-03-04/"
    )
    assert len([o for o in listed.get("Contents", []) if o["Key"].endswith(".png")]) == 2
