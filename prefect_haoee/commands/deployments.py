"""Campaign files as Prefect deployments (built here, applied by ``deploy_cmds``).

Each campaign file becomes one deployment of the ``haoee-campaign`` flow named after the
campaign, with ``parameters={"campaign": <path of the file>}``, the file's ``schedule:``
as a Prefect schedule, the campaign's tags (plus ``haoee``) and description, a deployment
concurrency limit of 1 (``ENQUEUE``) and the installed flow as a module path entrypoint;
with shards, a second deployment per campaign, ``haoee-campaign-shard/{campaign}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prefect_haoee.campaigns import Campaign
from prefect_haoee.commands.campaign_files import CampaignFile, scan_campaigns

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment
    from prefect.schedules import Schedule


def campaign_schedules(campaign: Campaign) -> list[Schedule]:
    """The campaign's ``schedule:`` block as Prefect schedules (none without one)."""
    from prefect.schedules import Cron, Interval

    spec = campaign.schedule
    if spec is None:
        return []
    if spec.cron is not None:
        return [Cron(spec.cron, timezone=spec.timezone)]
    if spec.interval_seconds is None:  # pragma: no cover - rejected by ScheduleSpec
        return []
    return [Interval(spec.interval_seconds, timezone=spec.timezone)]


def describe_schedule(campaign: Campaign) -> str:
    spec = campaign.schedule
    if spec is None:
        return "-"
    if spec.cron is not None:
        return f"{spec.cron} ({spec.timezone})"
    return f"every {spec.interval_seconds}s"


def campaign_tags(campaign: Campaign) -> list[str]:
    return list(dict.fromkeys(["haoee", *campaign.tags]))


@dataclass(frozen=True)
class Target:
    """Where the deployments' runs go: a work pool and its job variables (no pool: the runs
    are served from the process that holds the deployments)."""

    work_pool_name: str | None = None
    job_variables: dict[str, Any] | None = None


SERVED = Target()


def _deployment(
    flow: Any, item: CampaignFile, target: Target, parameters: dict[str, Any], **extra: Any
) -> RunnerDeployment:
    """``flow.to_deployment`` without remote storage, but sync in any context (the flow
    method returns a coroutine when called inside a running event loop)."""
    from prefect.deployments.runner import RunnerDeployment
    from prefect.types.entrypoint import EntrypointType

    return RunnerDeployment.from_flow(
        flow,
        name=item.campaign.name,
        parameters=parameters,
        tags=campaign_tags(item.campaign),
        enforce_parameter_schema=True,
        work_pool_name=target.work_pool_name,
        job_variables=target.job_variables,
        entrypoint_type=EntrypointType.MODULE_PATH,
        **extra,
    )


def campaign_deployment(
    item: CampaignFile, campaign_path: str, target: Target = SERVED, shards: int = 1
) -> RunnerDeployment:
    """One ``run_campaign`` deployment for a campaign file (nothing is sent anywhere)."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy

    from prefect_haoee.flows.campaign import run_campaign

    campaign = item.campaign
    parameters: dict[str, Any] = {"campaign": campaign_path}
    if shards > 1:
        parameters["shards"] = shards
    return _deployment(
        run_campaign,
        item,
        target,
        parameters,
        schedules=campaign_schedules(campaign),
        description=campaign.description or f"Campaign {campaign.name} ({item.path.name})",
        concurrency_limit=ConcurrencyLimitConfig(
            limit=1, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE
        ),
    )


def shard_deployment(item: CampaignFile, campaign_path: str, target: Target) -> RunnerDeployment:
    """The deployment a sharded run of this campaign starts its shards from (no
    schedule, no concurrency limit: the campaign's run and its limits pace the shards)."""
    from prefect_haoee.flows.shards import run_campaign_shard

    description = f"Shards of campaign {item.campaign.name} ({item.path.name})"
    return _deployment(
        run_campaign_shard, item, target, {"campaign": campaign_path}, description=description
    )


def deployments_for(
    items: Sequence[CampaignFile], paths: Sequence[str], target: Target, shards: int = 1
) -> list[RunnerDeployment]:
    """Each campaign's deployment (its file at ``paths``), then with ``shards`` > 1 each
    campaign's shard deployment."""
    pairs = list(zip(items, paths, strict=True))
    out = [campaign_deployment(item, path, target, shards) for item, path in pairs]
    if shards > 1:
        out += [shard_deployment(item, path, target) for item, path in pairs]
    return out


def campaign_deployments(
    directory: Path | str,
    *,
    worker_dir: str | None = None,
    work_pool_name: str | None = None,
    job_variables: dict[str, Any] | None = None,
) -> list[RunnerDeployment]:
    """A deployment per campaign file of ``directory`` (``CampaignError`` if any is invalid).

    ``worker_dir``: where ``directory`` is on the machines that run the flows (default:
    its absolute path here); the ``campaign`` parameter points into it.
    """
    found = scan_campaigns(Path(directory)).found
    paths = [worker_path(worker_dir, item.path) for item in found]
    return deployments_for(found, paths, Target(work_pool_name, job_variables))


def worker_path(worker_dir: str | None, path: Path) -> str:
    """``path``'s file in ``worker_dir`` (a POSIX path on the workers, not resolved here),
    or its absolute path here without one."""
    if worker_dir is None:
        return str(path.resolve())
    return f"{worker_dir.rstrip('/') or '/'}/{path.name}".replace("//", "/")
