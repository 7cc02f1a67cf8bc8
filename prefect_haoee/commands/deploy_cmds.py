"""``haoee serve DIR`` and ``haoee deploy DIR --pool NAME``: campaign files as deployments.

Every ``*.yaml``/``*.yml`` file of DIR whose top level has a ``prompts`` key is a campaign
file (other YAML files, such as a ``prefect.yaml``, are skipped with a note). Each becomes
one deployment of the ``haoee-campaign`` flow named after the campaign, with:

- ``parameters={"campaign": <path of the file>}`` (absolute; see ``worker_dir``);
- the file's optional ``schedule:`` block as a Prefect schedule (``cron`` in ``timezone``,
  or every ``interval_seconds``);
- the campaign's ``tags`` (plus ``haoee``) and ``description``;
- a deployment concurrency limit of 1 (``ENQUEUE``): two runs of one campaign never overlap;
- the installed flow as a module path entrypoint (``prefect_haoee.flows.campaign.run_campaign``),
  so a worker needs prefect-haoee installed, not this directory's code.

``deploy`` also creates each campaign's global concurrency limits when missing
(``haoee-{campaign}`` and ``haoee-{campaign}-qps``, see ``flows.limits``), so that its
``concurrency`` and ``qps`` hold across all workers; with ``--shards N`` (N > 1) a run
splits its items into N flow runs of a second deployment per campaign,
``haoee-campaign-shard/{campaign}`` (see ``flows.shards``).

``serve`` runs them all from this process (``prefect.serve``) on the Prefect API ``haoee run``
uses: PREFECT_API_URL, else the running local server (``haoee server start``), else a
temporary one it starts and stops (in its own process group, so a terminal's Ctrl-C stops
the runner first and the server after it: no websocket torn down under the runner).
``deploy`` registers them on a work pool for workers elsewhere (PREFECT_API_URL only:
workers must reach the same server). A worker reads the campaign file at the path in the
deployment's parameters, so DIR must exist at that path on the workers: the same absolute
path by default, or ``worker_dir`` (``--worker-dir``) when it is checked out elsewhere there.

Deployments are keyed by name (``haoee-campaign/<campaign>``, as in ``deployments/prefect.yaml``):
running either command again updates them. Prefect keeps a deployment's schedules when it
is re-applied with none, so after deleting a ``schedule:`` block, delete or pause the old
schedule in the UI (or set ``PREFECT_DEPLOYMENTS_CLEAR_SCHEDULES_ON_EMPTY=true``).

Exit codes: 0 ok, 1 Prefect API error, 2 invalid input (a bad campaign file, no campaign
files, duplicate campaign names, an unusable option; nothing was deployed).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

from prefect_haoee.campaigns import Campaign, CampaignError
from prefect_haoee.commands import logs
from prefect_haoee.commands.campaign_files import CampaignFile, CampaignScan, scan_campaigns
from prefect_haoee.commands.deployments import (
    SERVED,
    Target,
    campaign_tags,
    deployments_for,
    describe_schedule,
    worker_path,
)
from prefect_haoee.commands.render import console, errors, say_error, show_problems

MAX_SHARDS = 64

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


def _api_url() -> str | None:
    from prefect.settings import PREFECT_API_URL

    value = PREFECT_API_URL.value()
    return str(value) if value else None


def _scan_or_report(directory: Path) -> CampaignScan | None:
    try:
        scan = scan_campaigns(directory)
    except CampaignError as exc:
        show_problems(exc, as_json=False)
        return None
    for path in scan.skipped:
        errors.print(f"  skipped {path}: not a campaign file (no 'prompts')", highlight=False)
    return scan


def _table(title: str, rows: Sequence[tuple[CampaignFile, str]]) -> Any:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("deployment", no_wrap=True)
    table.add_column("schedule", overflow="fold")
    table.add_column("tags")
    table.add_column("campaign parameter", overflow="fold")
    for item, parameter in rows:
        table.add_row(
            f"haoee-campaign/{item.campaign.name}",
            describe_schedule(item.campaign),
            ", ".join(campaign_tags(item.campaign)),
            parameter,
        )
    return table


def serve(directory: Path, limit: int | None = None) -> int:
    """Serve every campaign of ``directory`` from this process until Ctrl-C (or SIGTERM).

    The Prefect API is the one ``haoee run`` uses (``prefect_server.connect``):
    PREFECT_API_URL, else the running local server (``haoee server start``), else a
    temporary one that stops with this command."""
    scan = _scan_or_report(directory)
    if scan is None:
        return EXIT_INVALID
    from prefect_haoee.commands.campaign_cmds import report_unreachable
    from prefect_haoee.commands.prefect_server import PrefectUnreachable, connect

    with ExitStack() as stack:
        try:
            api = connect(stack, _note, log=logs.server_log_path())
        except PrefectUnreachable as exc:
            return report_unreachable(exc, as_json=False)
        if api.how == "temporary server":
            _note(
                "note: no Prefect server is running, so the deployments live in this"
                " temporary one, which stops with this command (no UI). `haoee server"
                " start` keeps one running, with its UI."
            )
        else:
            _note(f"Prefect API {api.api_url} ({api.how})")
        return _serve(scan, limit)


def _note(text: str) -> None:
    errors.print(text, highlight=False, soft_wrap=True)


def _serve(scan: CampaignScan, limit: int | None) -> int:
    """``prefect.aserve`` in a loop of our own: its "being served" line comes from inside
    the running loop, so a Ctrl-C right after it cancels the runner (which pauses its
    schedules and stops) instead of cutting the loop's creation short with a traceback."""
    from prefect import aserve

    paths = [worker_path(None, item.path) for item in scan.found]
    deployments = deployments_for(scan.found, paths, SERVED)
    rows = list(zip(scan.found, paths, strict=True))
    console.print(_table(f"Serving {len(rows)} campaign(s), one run at a time each", rows))
    try:
        asyncio.run(aserve(*deployments, limit=limit, print_starting_message=True))
    except KeyboardInterrupt:  # Prefect's runner stops on its own; one more is not a crash
        pass
    except Exception as exc:  # noqa: BLE001 - any API/runner failure ends the command
        say_error(("serve failed:", "bold red"), f" {type(exc).__name__}: {exc}")
        return EXIT_FAILED
    console.print("stopped serving", highlight=False)
    return EXIT_OK


def deploy(
    directory: Path,
    pool: str,
    image: str | None = None,
    worker_dir: str | None = None,
    env: dict[str, str] | None = None,
    shards: int = 1,
) -> int:
    """Create or update a deployment per campaign of ``directory`` on work pool ``pool``
    (and a shard deployment per campaign with ``shards`` > 1), and the campaigns' global
    concurrency limits the server lacks; ``env`` goes to each run's environment
    (``job_variables.env``)."""
    scan = _scan_or_report(directory)
    if scan is None:
        return EXIT_INVALID
    if _api_url() is None:
        say_error(
            ("PREFECT_API_URL is not set:", "bold red"),
            " deployments for workers need a running"
            " Prefect server (or Prefect Cloud); nothing was deployed.",
        )
        return EXIT_INVALID
    paths = [worker_path(worker_dir, item.path) for item in scan.found]
    if not 1 <= shards <= MAX_SHARDS:
        errors.print(f"[bold red]invalid option:[/] --shards must be 1..{MAX_SHARDS}")
        return EXIT_INVALID
    job_variables = {"env": env} if env else None
    deployments = deployments_for(scan.found, paths, Target(pool, job_variables), shards)
    campaigns = [item.campaign for item in scan.found]
    try:
        ids, created = asyncio.run(_apply(deployments, pool, image, campaigns))
    except _InvalidOption as exc:
        say_error(("invalid option:", "bold red"), f" {exc}")
        return EXIT_INVALID
    except _ApiError as exc:
        say_error(("Prefect API error:", "bold red"), f" {exc}")
        return EXIT_FAILED
    rows = list(zip(scan.found, paths, strict=True))
    title = f"Deployed {len(rows)} campaign(s) to work pool {pool!r}, one run at a time each"
    if shards > 1:
        title += f", in {shards} shards"
    console.print(_table(title, rows))
    for name in created:
        console.print(f"  created global concurrency limit {name}", highlight=False)
    ui = _ui_url()
    if ui:
        for item, deployment_id in zip(scan.found, ids[: len(scan.found)], strict=True):
            console.print(
                f"  {item.campaign.name}: {ui}/deployments/deployment/{deployment_id}",
                highlight=False,
                soft_wrap=True,
            )
    console.print(
        "Workers read the campaign files at the paths above; start one with\n"
        f"  prefect worker start --pool {pool}\n"
        f"and run a campaign now with\n"
        f"  prefect deployment run 'haoee-campaign/{scan.found[0].campaign.name}'",
        highlight=False,
    )
    return EXIT_OK


def _ui_url() -> str | None:
    from prefect.settings import PREFECT_UI_URL

    value = PREFECT_UI_URL.value()
    return str(value).rstrip("/") if value else None


class _InvalidOption(Exception):
    pass


class _ApiError(Exception):
    pass


async def _apply(
    deployments: list[RunnerDeployment], pool: str, image: str | None, campaigns: list[Campaign]
) -> tuple[list[UUID], list[str]]:
    import httpx
    from prefect.client.orchestration import get_client
    from prefect.deployments.runner import DeploymentApplyError
    from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError

    from prefect_haoee.flows.limits import ensure_limits

    try:
        async with get_client() as client:
            try:
                work_pool = await client.read_work_pool(pool)
            except ObjectNotFound:
                raise _ApiError(
                    f"work pool {pool!r} not found; create it first, e.g. "
                    f"`prefect work-pool create {pool} --type process`"
                ) from None
            variables = work_pool.base_job_template.get("variables", {}).get("properties", {})
            if image and "image" not in variables:
                raise _InvalidOption(
                    f"work pool {pool!r} (type {work_pool.type}) has no image variable;"
                    " --image needs a container-based pool (docker, kubernetes, ...)"
                )
            ids: list[UUID] = []
            for deployment in deployments:
                ids.append(await deployment.aapply(work_pool_name=pool, image=image))
            created = await ensure_limits(client, campaigns)
            return ids, created
    except (PrefectHTTPStatusError, DeploymentApplyError, httpx.HTTPError) as exc:
        raise _ApiError(f"{type(exc).__name__}: {exc}") from None
