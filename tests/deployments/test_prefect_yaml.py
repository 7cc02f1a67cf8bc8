"""``prefect deploy --all`` from ``deployments/`` against a real Prefect server.

One deployment per example campaign, read back with the Prefect client: schedule (the
campaign file's own), parameters, tags, description, parameter schema enforcement, the
concurrency limit; then a run of one of them executed from another directory the way a
process worker runs it (pull step, module entrypoint, relative campaign path).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from prefect_haoee.campaigns import Campaign, load_campaign
from tests.deployments.support import (
    BIN,
    DEPLOYMENTS,
    ENTRYPOINT,
    FLOW_NAME,
    parts_env,
    prefect_env,
    run,
)

pytestmark = pytest.mark.integration

POOL = "haoee-process"


def example_campaigns() -> dict[str, tuple[Path, Campaign]]:
    files = sorted((DEPLOYMENTS / "campaigns").glob("*.yaml"))
    campaigns = {path.name: (path, load_campaign(path)) for path in files}
    assert {"spring-launch.yaml", "daily-hero.yaml"} <= set(campaigns)
    return campaigns


@pytest.fixture(scope="module")
def deploy_all(prefect_server: str, state_dir: Path) -> str:
    """Create the process work pool and run ``prefect deploy --all``; its output."""
    env = prefect_env(prefect_server, state_dir)
    pool = run(
        BIN / "prefect", "work-pool", "create", POOL, "--type", "process", "--overwrite", env=env
    )
    assert pool.returncode == 0, pool.stdout + pool.stderr
    done = run(BIN / "prefect", "--no-prompt", "deploy", "--all", env=env, cwd=DEPLOYMENTS)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    print(output)  # shown with -s: what a user sees
    return output


def test_prefect_deploy_all_creates_one_deployment_per_campaign(deploy_all: str) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import ConcurrencyLimitStrategy
    from prefect.client.schemas.schedules import CronSchedule

    with get_client(sync_client=True) as client:
        for file_name, (path, campaign) in example_campaigns().items():
            name = campaign.name
            assert f"Deployment '{FLOW_NAME}/{name}' successfully created" in deploy_all
            deployment = client.read_deployment_by_name(f"{FLOW_NAME}/{name}")

            assert deployment.entrypoint == ENTRYPOINT
            assert deployment.work_pool_name == POOL
            assert deployment.pull_steps == [
                {
                    "prefect.deployments.steps.set_working_directory": {
                        "directory": str(DEPLOYMENTS.resolve())
                    }
                }
            ]
            # The parameter is relative to deployments/ (the pull step's directory).
            expected = {"campaign": f"campaigns/{file_name}"}
            assert deployment.parameters == expected
            assert load_campaign(DEPLOYMENTS / expected["campaign"]).name == name
            assert deployment.enforce_parameter_schema is True
            assert "campaign" in deployment.parameter_openapi_schema["properties"]
            assert deployment.description and path.name in deployment.description
            assert {"haoee", *campaign.tags} <= set(deployment.tags)

            # Schedule: the campaign file's own cron and timezone, with its parameters.
            assert campaign.schedule is not None and campaign.schedule.cron
            assert len(deployment.schedules) == 1
            schedule = deployment.schedules[0]
            assert isinstance(schedule.schedule, CronSchedule)
            assert schedule.schedule.cron == campaign.schedule.cron
            assert schedule.schedule.timezone == campaign.schedule.timezone
            assert schedule.active is True
            assert schedule.parameters == expected

            # Two runs of one campaign never overlap: limit 1, the second waits.
            assert deployment.global_concurrency_limit is not None
            assert deployment.global_concurrency_limit.limit == 1
            assert deployment.concurrency_options is not None
            assert (
                deployment.concurrency_options.collision_strategy
                == ConcurrencyLimitStrategy.ENQUEUE
            )


def test_deployed_campaign_runs_like_a_worker_runs_it(
    deploy_all: str,
    prefect_server: str,
    state_dir: Path,
    sim: Any,
    s3_server: str,
    tmp_path: Path,
) -> None:
    """``prefect flow-run execute`` (what a process worker starts) from a directory that is
    not deployments/: the pull step moves there and the relative campaign path resolves."""
    import boto3
    from prefect.client.orchestration import get_client

    campaign = load_campaign(DEPLOYMENTS / "campaigns" / "daily-hero.yaml")
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_server,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if campaign.output.bucket not in existing:
        s3.create_bucket(Bucket=campaign.output.bucket)
    day = date(2001, 2, 3)
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(f"{FLOW_NAME}/{campaign.name}")
        flow_run = client.create_flow_run_from_deployment(
            deployment.id, parameters={"run_date": day.isoformat()}
        )

    env = prefect_env(prefect_server, state_dir, **parts_env(sim, s3_server))
    done = run(BIN / "prefect", "flow-run", "execute", str(flow_run.id), env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr

    with get_client(sync_client=True) as client:
        state = client.read_flow_run(flow_run.id).state
    assert state is not None and state.is_completed(), state
    prefix = campaign.output.common_prefix(campaign.name, day)
    listed = s3.list_objects_v2(Bucket=campaign.output.bucket, Prefix=f"{prefix}/")
    keys = sorted(o["Key"] for o in listed.get("Contents", []))
    assert len([k for k in keys if k.endswith(".png")]) == 2, keys
    manifest = s3.get_object(Bucket=campaign.output.bucket, Key=f"{prefix}/manifest.json")
    document = json.loads(manifest["Body"].read())
    assert document["campaign"] == campaign.name
    assert (document["run_date"], document["done"], document["failed"]) == (day.isoformat(), 2, 0)
