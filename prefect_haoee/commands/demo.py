"""``haoee demo``: the demo campaign on embedded defaults, with nothing installed or running.

It starts the gateway simulator and moto's S3 server on loopback, points ``HAOEE_*`` and
``AWS_*`` at them, and runs the packaged demo campaign through the real flow. The
simulator is scripted to answer the first sync generation with a 429 and the second with
an output-moderation refusal (50511), so the run shows both handled: a retry after
``Retry-After``, and a new seed.

Every piece of state lives in the demo's own temporary directory, set in the environment
before Prefect loads its settings: ``PREFECT_HOME`` (its database, profiles), the result
storage (committed paid steps) and the lock files. A demo never reads what an earlier one
left (its simulator is gone), and leaves nothing behind. Prefect: ``PREFECT_API_URL``
from the environment, else a local server (``haoee server start``), else a temporary one;
``--keep`` starts a server with its UI when none runs, and keeps it up until Ctrl-C (or
SIGTERM, see ``stopping``); the `aws s3 cp` line it prints only then, as only then does
the S3 server stay up to answer it.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from prefect_haoee.commands import logs
from prefect_haoee.commands.local_s3 import local_s3, moto_missing
from prefect_haoee.commands.render import console, errors, line, say_error

DEMO_KEY = "haoee-demo-key"
DEMO_SCRIPT = {"CVProcess:1": "429", "CVProcess:2": "50511"}
EXIT_INVALID, EXIT_UNREACHABLE = 2, 3


@dataclass
class LocalParts:
    simulator: Any
    simulator_url: str
    s3_url: str


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


def isolate(state_dir: Path) -> dict[str, str]:
    """The demo's own Prefect home, result storage and lock dir (the environment)."""
    home = state_dir / "prefect-home"
    home.mkdir(parents=True, exist_ok=True)
    return {
        "PREFECT_HOME": str(home),
        "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(state_dir / "results"),
        "PREFECT_LOCAL_STORAGE_PATH": str(state_dir / "results"),
        "HAOEE_LOCK_DIR": str(state_dir / "locks"),
    }


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Set ``values`` in ``os.environ`` (restored on exit), and in Prefect's settings if
    Prefect was already loaded in this process (a caller other than the CLI)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    _reload_prefect_settings()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        _reload_prefect_settings()


def _reload_prefect_settings() -> None:
    if "prefect.context" in sys.modules:
        from prefect.context import refresh_global_settings_context

        refresh_global_settings_context()


@contextmanager
def local_parts() -> Iterator[LocalParts]:
    """Simulator + S3 server, ``HAOEE_*`` and ``AWS_*`` pointed at them."""
    from prefect_haoee.simulator.server import run_simulator

    with ExitStack() as stack:
        sim = stack.enter_context(run_simulator(_demo_simulator_config()))  # type: ignore[arg-type]
        s3_url = stack.enter_context(local_s3())
        env = {
            "HAOEE_API_KEY": DEMO_KEY,
            "HAOEE_BASE_URL": sim.base_url,
            "HAOEE_BACKOFF_BASE": "0.2",
            "AWS_ACCESS_KEY_ID": "demo",
            "AWS_SECRET_ACCESS_KEY": "demo",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_S3": s3_url,
        }
        stack.enter_context(environment(env))
        yield LocalParts(sim, sim.base_url, s3_url)


def demo(keep: bool) -> int:
    logs.file_handler()  # the user's debug log, resolved before PREFECT_HOME moves
    if moto_missing("haoee demo"):
        return EXIT_INVALID
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="haoee-demo-") as tmp,
        environment(isolate(Path(tmp))),
    ):
        return _demo(keep, Path(tmp), started)


def _demo(keep: bool, state_dir: Path, started: float) -> int:
    from prefect_haoee.campaigns import CampaignError, load_demo_campaign
    from prefect_haoee.commands.campaign_cmds import (
        Unreachable,
        execute,
        make_checked_plan,
        report_unreachable,
    )
    from prefect_haoee.commands.prefect_server import PrefectUnreachable, connect
    from prefect_haoee.commands.stored import s3_client

    campaign = load_demo_campaign()
    console.print(line(("prefect-haoee demo", "bold"), ": starting the gateway simulator and S3 …"))
    with ExitStack() as stack:
        parts = stack.enter_context(local_parts())
        logs.route_logs(errors)  # moto's access log goes to the debug log from now on
        console.print(f"  gateway simulator  {parts.simulator_url}  (scripted: one 429, one 50511)")
        console.print(f"  S3 server (moto)   {parts.s3_url}")
        try:
            api = connect(stack, console.print, log=logs.server_log_path(), ui=keep)
        except PrefectUnreachable as exc:
            return report_unreachable(exc, as_json=False)
        console.print(f"  Prefect API        {api.api_url}  ({api.how})")
        s3_client().create_bucket(Bucket=campaign.output.bucket)
        run_date = date.today()
        try:
            plan = make_checked_plan(campaign, run_date)
        except CampaignError as exc:
            say_error(str(exc))
            return EXIT_INVALID
        except Unreachable as exc:
            return report_unreachable(exc, as_json=False)
        code, run_id = execute(campaign, plan, run_date, as_json=False)
        _epilogue(campaign.output.bucket, parts, api, run_id, campaign.name, run_date, keep)
        console.print(f"demo finished in {time.perf_counter() - started:.1f}s (exit {code})")
        if keep:
            _wait_for_ctrl_c(parts, api.ui_url)
    return code


def flow_run_link(api: Any, run_id: str) -> str | None:
    """The flow run's page: V2 UI of a local server (its gallery renders images), or the
    configured UI."""
    if not api.ui_url:
        return None
    base = api.ui_url.rstrip("/")
    if api.how in ("local server", "kept server"):
        return f"{base}/v2/runs/flow-run/{run_id}"
    return f"{base}/runs/flow-run/{run_id}"


def _epilogue(
    bucket: str,
    parts: LocalParts,
    api: Any,
    run_id: str | None,
    name: str,
    day: date,
    keep: bool,
) -> None:
    from prefect_haoee.flows.destination import manifest_key

    stats = parts.simulator.stats()
    codes = stats["calls_by_code"]
    limited, refused = codes.get("50429", 0), codes.get("50511", 0)
    console.print(
        f"\nGateway (simulator): {counted(stats['calls_total'], 'call')}, "
        f"{limited} {were(limited, 'answered 429 and', 'retried after Retry-After')}, "
        f"{refused} {were(refused, 'refused by output moderation and', 'reseeded')}, "
        f"{counted(stats['billable_generations'], 'billable generation')}, "
        f"{stats['duplicates']} paid twice."
    )
    prefix = f"campaigns/{name}/{day.isoformat()}"
    console.print(f"\nImages: s3://{bucket}/{prefix}/  (endpoint {parts.s3_url})")
    console.print(f"Manifest: s3://{bucket}/{manifest_key(prefix)}")
    if keep:  # without --keep the S3 server stops with the demo: nothing to copy from
        console.print(
            f"  aws --endpoint-url {parts.s3_url} s3 cp s3://{bucket}/{manifest_key(prefix)} -"
        )
    link = flow_run_link(api, run_id) if run_id else None
    if link:
        console.print(f"Prefect UI: {link}  (artifacts tab: table and gallery)")
    else:
        console.print(
            "Prefect UI: none - this run went to a temporary Prefect server without a UI that"
            " stopped with the demo. `haoee server start` (a server with its UI) and then"
            " `haoee demo` shows the run there; or `haoee demo --keep`."
        )


def counted(number: int, noun: str) -> str:
    """``1 call``, ``2 calls``."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def were(number: int, what: str, then: str) -> str:
    """``answered 429 and was retried`` for one call, ``... and were retried`` for more."""
    return f"{what} {'was' if number == 1 else 'were'} {then}"


def _wait_for_ctrl_c(parts: LocalParts, ui_url: str | None) -> None:
    try:  # from the line on: a stop signal right after it is the awaited Ctrl-C, too
        console.print(
            f"\n--keep: simulator {parts.simulator_url}, S3 {parts.s3_url}"
            + (f", Prefect UI {ui_url}" if ui_url else "")
            + " stay up. Ctrl-C to stop."
        )
        threading.Event().wait()
    except KeyboardInterrupt:
        console.print("stopping")
