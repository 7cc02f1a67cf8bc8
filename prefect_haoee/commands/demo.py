"""``haoee demo``: the demo campaign on embedded defaults, with nothing installed or running.

It starts the gateway simulator and moto's S3 server on loopback, points ``HAOEE_*`` and
``AWS_*`` at them, and runs the packaged demo campaign through the real flow (Prefect at
``PREFECT_API_URL``, else a local temporary server). The simulator is scripted to answer
the first sync generation with a 429 and the second with an output-moderation refusal
(50511), so the run shows both handled: a retry after ``Retry-After``, and a new seed.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from prefect_haoee.commands.render import console, errors

DEMO_KEY = "haoee-demo-key"
DEMO_SCRIPT = {"CVProcess:1": "429", "CVProcess:2": "50511"}


@dataclass
class LocalParts:
    simulator: Any
    simulator_url: str
    s3_url: str
    prefect_url: str | None
    ui_url: str | None


def _demo_simulator_config() -> object:
    from prefect_haoee.simulator.config import SimulatorConfig

    return SimulatorConfig(
        api_keys=(DEMO_KEY,),
        latency_ms=400,
        async_latency_ms=2500,
        latency_sigma=0.3,
        fault_script=DEMO_SCRIPT,
        seed=1,
    )


@contextmanager
def local_parts(keep: bool, state_dir: Path) -> Iterator[LocalParts]:
    """Simulator + S3 server (+ a Prefect server with ``--keep``), env pointed at them."""
    from moto.server import ThreadedMotoServer

    from prefect_haoee.simulator.server import run_simulator

    with ExitStack() as stack:
        sim = stack.enter_context(run_simulator(_demo_simulator_config()))  # type: ignore[arg-type]
        s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        s3.start()
        stack.callback(s3.stop)
        host, port = s3.get_host_and_port()
        s3_url = f"http://{host}:{port}"
        env = {
            "HAOEE_API_KEY": DEMO_KEY,
            "HAOEE_BASE_URL": sim.base_url,
            "HAOEE_BACKOFF_BASE": "0.2",
            "HAOEE_LOCK_DIR": str(state_dir / "locks"),
            "AWS_ACCESS_KEY_ID": "demo",
            "AWS_SECRET_ACCESS_KEY": "demo",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_S3": s3_url,
            "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(state_dir / "results"),
        }
        saved = {name: os.environ.get(name) for name in env}
        os.environ.update(env)
        stack.callback(_restore, saved)
        prefect_url, ui_url = _prefect(stack, keep)
        yield LocalParts(sim, sim.base_url, s3_url, prefect_url, ui_url)


def _restore(saved: dict[str, str | None]) -> None:
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def _prefect(stack: ExitStack, keep: bool) -> tuple[str | None, str | None]:
    """The Prefect API in use: PREFECT_API_URL, a kept local server (--keep), or none
    (Prefect then starts its own temporary server for the run)."""
    from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL

    configured = PREFECT_API_URL.value()
    if configured:
        return str(configured), str(PREFECT_UI_URL.value() or "") or None
    if not keep:
        return None, None
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import temporary_settings

    server = SubprocessASGIServer()
    server.start(timeout=120)
    stack.callback(server.stop)
    stack.enter_context(temporary_settings({PREFECT_API_URL: server.api_url}))
    return server.api_url, server.address


def demo(keep: bool) -> int:
    from prefect_aws import AwsClientParameters, AwsCredentials

    from prefect_haoee.campaigns import load_demo_campaign
    from prefect_haoee.commands.campaign_cmds import EXIT_INVALID, execute, make_checked_plan

    started = time.perf_counter()
    campaign = load_demo_campaign()
    with tempfile.TemporaryDirectory(prefix="haoee-demo-") as tmp:
        state_dir = Path(tmp)
        console.print("[bold]prefect-haoee demo[/]: starting the gateway simulator and S3 …")
        with local_parts(keep, state_dir) as parts:
            console.print(
                f"  gateway simulator  {parts.simulator_url}  (scripted: one 429, one 50511)"
            )
            console.print(f"  S3 server (moto)   {parts.s3_url}")
            console.print(
                f"  Prefect API        {parts.prefect_url or 'temporary local server (starting…)'}"
            )
            credentials = AwsCredentials(
                aws_access_key_id="demo",
                aws_secret_access_key="demo",
                region_name="us-east-1",
                aws_client_parameters=AwsClientParameters(endpoint_url=parts.s3_url),
            )
            credentials.get_s3_client().create_bucket(Bucket=campaign.output.bucket)
            run_date = date.today()
            from prefect_haoee.campaigns import CampaignError

            try:
                plan = make_checked_plan(campaign, run_date)
            except CampaignError as exc:
                errors.print(str(exc))
                return EXIT_INVALID
            code, run_id = execute(campaign, plan, run_date, as_json=False)
            _epilogue(campaign.output.bucket, parts, run_id, campaign.name, run_date)
            console.print(f"demo finished in {time.perf_counter() - started:.1f}s (exit {code})")
            if keep:
                _wait_for_ctrl_c(parts)
    return code


def _epilogue(bucket: str, parts: LocalParts, run_id: str | None, name: str, day: date) -> None:
    from prefect_haoee.flows.destination import manifest_key

    stats = parts.simulator.stats()
    codes = stats["calls_by_code"]
    console.print(
        f"\nGateway (simulator): {stats['calls_total']} calls, "
        f"{codes.get('50429', 0)} answered 429 and were retried after Retry-After, "
        f"{codes.get('50511', 0)} refused by output moderation and reseeded, "
        f"{stats['billable_generations']} billable generations, "
        f"{stats['duplicates']} paid twice."
    )
    prefix = f"campaigns/{name}/{day.isoformat()}"
    console.print(f"\nImages: s3://{bucket}/{prefix}/  (endpoint {parts.s3_url})")
    console.print(f"Manifest: s3://{bucket}/{manifest_key(prefix)}")
    console.print(
        f"  aws --endpoint-url {parts.s3_url} s3 cp s3://{bucket}/{manifest_key(prefix)} -"
    )
    if parts.ui_url and run_id:
        console.print(f"Prefect UI: {parts.ui_url.rstrip('/')}/runs/flow-run/{run_id}")
    else:
        console.print(
            "Prefect UI: this run went to a temporary Prefect server that stops with the demo;"
            " run `prefect server start` and set PREFECT_API_URL, or use `haoee demo --keep`."
        )


def _wait_for_ctrl_c(parts: LocalParts) -> None:
    console.print(
        f"\n--keep: simulator {parts.simulator_url}, S3 {parts.s3_url}"
        + (f", Prefect UI {parts.ui_url}" if parts.ui_url else "")
        + " stay up. Ctrl-C to stop."
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        console.print("stopping")
