"""The ``haoee`` command line. Heavy imports (Prefect, the simulator) happen inside commands:
``--help``, ``validate`` and ``plan`` load no Prefect module.

Exit codes: 0 ok, 1 some items failed (or the run failed), 2 invalid input (nothing was
called), 3 Prefect, S3 or the gateway could not be reached (nothing was paid).
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import typer

from prefect_haoee.commands.guarded import guarded
from prefect_haoee.commands.help_flags import bare_flags

bare_flags()
app = typer.Typer(
    name="haoee",
    help="Run paid AI image generation on the Haoee gateway as Prefect workflows.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)
server_app = typer.Typer(
    help="A local Prefect server (with its UI) that `haoee run` finds and uses.",
    no_args_is_help=True,
)
app.add_typer(server_app, name="server")

VERBOSE = typer.Option(
    False, "--verbose", "-v", help="Show Prefect's logs and tracebacks on the terminal."
)
# Options several commands take (typer reads each declaration anew per command).
CAMPAIGN_FILE = typer.Argument(..., help="Campaign YAML file.")
JSON_OUTPUT = typer.Option(False, "--json", help="Print one JSON document.")
RUN_DATE = typer.Option(None, "--date", help="Run date YYYY-MM-DD (default today).")


def _version(value: bool) -> None:
    if value:
        from prefect_haoee import __version__

        typer.echo(f"prefect-haoee {__version__}")
        raise typer.Exit()


def _verbose(value: bool) -> None:
    if value:
        from prefect_haoee.commands import logs

        logs.VERBOSE = True


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    verbose: bool = VERBOSE,
) -> None:
    """Haoee gateway tools."""
    _verbose(verbose)


@app.command()
def simulate(
    port: int = typer.Option(8700, help="Port to listen on (0: any free port)."),
    host: str = typer.Option("127.0.0.1", help="Interface to bind."),
    latency_ms: float = typer.Option(800.0, help="Median latency of a generation, in ms."),
    latency_sigma: float = typer.Option(0.35, help="Lognormal spread (0: exact latency)."),
    fault_rate: list[str] = typer.Option(
        [],
        "--fault-rate",
        help="NAME=RATE[,NAME=RATE...], e.g. 429=0.1,500=0.05. Names: 429, 430, 500, 50501, "
        "drop, slow, 50511, task_fail, expired_url.",
    ),
    fault_script: list[str] = typer.Option(
        [],
        "--fault-script",
        help="ACTION:N=FAULT[,...]: the N-th call of ACTION fails with FAULT, "
        "e.g. CVProcess:1=429,CVProcess:2=50511.",
    ),
    qps: int = typer.Option(0, help="Per-key calls per second (0: no cap)."),
    concurrency: int = typer.Option(0, help="Per-key calls in flight (0: no cap)."),
    seed: int = typer.Option(0, help="Seed of every random choice (faults, latencies)."),
    api_key: list[str] = typer.Option(
        [], "--api-key", help="Accepted API key (repeatable). Default: haoee-sim-key."
    ),
    slow_response_s: float = typer.Option(30.0, help="Delay of the 'slow' fault, in s."),
    url_ttl_s: float = typer.Option(24 * 3600.0, help="Lifetime of result URLs, in s."),
    task_ttl_s: float = typer.Option(12 * 3600.0, help="Lifetime of async tasks, in s."),
    image_format: str = typer.Option("png", help="png or jpeg."),
    with_s3: bool = typer.Option(
        False,
        "--with-s3",
        help="Also run a local S3 server (moto), create --bucket and print the exports "
        "a flow of your own needs.",
    ),
    s3_port: int = typer.Option(8701, "--s3-port", help="Port of the S3 server (0: any)."),
    bucket: str = typer.Option(
        "my-images", "--bucket", help="Bucket created on the S3 server (with --with-s3)."
    ),
) -> None:
    """Serve a local Haoee gateway simulator until Ctrl-C (with --with-s3: and S3)."""
    from prefect_haoee.commands import simulate_cmd

    options: dict[str, object] = {
        "latency_ms": latency_ms,
        "latency_sigma": latency_sigma,
        "qps": qps or None,
        "concurrency": concurrency or None,
        "seed": seed,
        "slow_response_s": slow_response_s,
        "url_ttl_s": url_ttl_s,
        "task_ttl_s": task_ttl_s,
        "image_format": image_format,
    }
    if api_key:
        options["api_keys"] = tuple(api_key)
    config = simulate_cmd.simulator_config(options, fault_rate, fault_script)
    if with_s3:
        raise typer.Exit(guarded(lambda: simulate_cmd.with_s3(config, host, port, s3_port, bucket)))
    raise typer.Exit(simulate_cmd.serve_alone(config, host, port))


def _date(value: str | None) -> date:
    try:
        return date.fromisoformat(value) if value else date.today()
    except ValueError:
        typer.echo(f"invalid --date {value!r}: use YYYY-MM-DD", err=True)
        raise typer.Exit(2) from None


@app.command()
def validate(
    file: Path = CAMPAIGN_FILE,
    json_output: bool = JSON_OUTPUT,
    check_objects: bool = typer.Option(
        False, "--check-objects", help="Also read the S3 reference images (network)."
    ),
) -> None:
    """Check a campaign file (every request validated; no network, no cost)."""
    from prefect_haoee.commands import campaign_cmds

    raise typer.Exit(
        guarded(lambda: campaign_cmds.validate(file, json_output, check_objects=check_objects))
    )


@app.command()
def plan(
    file: Path = CAMPAIGN_FILE,
    json_output: bool = JSON_OUTPUT,
    run_date: str | None = RUN_DATE,
    verbose: bool = VERBOSE,
) -> None:
    """Show what a run would generate, what S3 already holds, and the cost."""
    from prefect_haoee.commands import campaign_cmds

    _verbose(verbose)
    day = _date(run_date)
    raise typer.Exit(guarded(lambda: campaign_cmds.plan(file, day, json_output)))


@app.command()
def run(
    file: Path = CAMPAIGN_FILE,
    json_output: bool = JSON_OUTPUT,
    run_date: str | None = RUN_DATE,
    verbose: bool = VERBOSE,
    credentials_block: str | None = typer.Option(
        None, "--credentials-block", help="HaoeeCredentials block (else HAOEE_API_KEY)."
    ),
    bucket_block: str | None = typer.Option(
        None, "--bucket-block", help="S3Bucket block of the output bucket (else AWS_*)."
    ),
) -> None:
    """Run a campaign as a Prefect flow.

    Exit 0 all done, 1 some failed, 2 invalid input, 3 Prefect/S3/gateway unreachable.
    Prefect: PREFECT_API_URL, else a local server (`haoee server start`), else a
    temporary one for this run.
    """
    from prefect_haoee.commands import campaign_cmds

    _verbose(verbose)
    day = _date(run_date)
    os.environ.update(_block_env(credentials_block, bucket_block))
    raise typer.Exit(guarded(lambda: campaign_cmds.run(file, day, json_output)))


@app.command()
def demo(
    keep: bool = typer.Option(
        False, "--keep", help="Leave the simulator, S3 server and a Prefect UI up afterwards."
    ),
    verbose: bool = VERBOSE,
) -> None:
    """Run the demo campaign on a local simulator and S3 server (no credentials needed)."""
    from prefect_haoee.commands.demo import demo as run_demo

    _verbose(verbose)
    raise typer.Exit(guarded(lambda: run_demo(keep)))


@app.command()
def models(
    json_output: bool = JSON_OUTPUT,
) -> None:
    """The models the gateway serves: family, sync/async, seed, input images, price."""
    from prefect_haoee.commands.models_cmd import show_models

    raise typer.Exit(guarded(lambda: show_models(json_output)))


@server_app.command("start")
def server_start(
    port: int | None = typer.Option(
        None, "--port", help="Port (default PREFECT_SERVER_API_PORT, 4200)."
    ),
) -> None:
    """Start a Prefect server with its UI in the background (survives this command)."""
    from prefect_haoee.commands import server_cmds

    raise typer.Exit(guarded(lambda: server_cmds.start(port)))


@server_app.command("stop")
def server_stop() -> None:
    """Stop the server `haoee server start` (or `prefect server start -b`) started."""
    from prefect_haoee.commands import server_cmds

    raise typer.Exit(guarded(server_cmds.stop))


@server_app.command("status")
def server_status() -> None:
    """Say which Prefect API `haoee run` would use. Exit 0 reachable, 3 not."""
    from prefect_haoee.commands import server_cmds

    raise typer.Exit(guarded(server_cmds.status))


@app.command()
def serve(
    directory: Path = typer.Argument(..., help="Directory of campaign YAML files."),
    limit: int | None = typer.Option(
        None, "--limit", min=1, help="Most flow runs at once in this process (default: no cap)."
    ),
) -> None:
    """Serve every campaign file in DIR as a deployment from this process (until Ctrl-C).

    Schedules come from each file's optional `schedule:` block (cron + timezone, or
    interval_seconds); runs of one campaign never overlap. Prefect: PREFECT_API_URL, else
    a local server (`haoee server start`), else a temporary one that stops with it.
    Exit 2 if a campaign file is invalid (nothing served), 3 if Prefect is unreachable.
    """
    from prefect_haoee.commands import deploy_cmds

    raise typer.Exit(guarded(lambda: deploy_cmds.serve(directory, limit)))


@app.command()
def deploy(
    directory: Path = typer.Argument(..., help="Directory of campaign YAML files."),
    pool: str = typer.Option(..., "--pool", help="Work pool whose workers run the campaigns."),
    image: str | None = typer.Option(
        None, "--image", help="Image for container work pools (used as is; nothing is built)."
    ),
    worker_dir: str | None = typer.Option(
        None,
        "--worker-dir",
        help="Where DIR is on the workers (default: DIR's absolute path on this machine).",
    ),
    credentials_block: str | None = typer.Option(
        None, "--credentials-block", help="HaoeeCredentials block the workers use."
    ),
    bucket_block: str | None = typer.Option(
        None, "--bucket-block", help="S3Bucket block of the output bucket the workers use."
    ),
    shards: int = typer.Option(
        1, "--shards", help="Split each run into N flow runs that any worker picks up."
    ),
) -> None:
    """Create or update a deployment per campaign file in DIR on a work pool.

    Workers need prefect-haoee installed and DIR's files at the same path (or at
    --worker-dir). Exit 0 deployed, 1 Prefect API error, 2 invalid campaign file or option.
    """
    from prefect_haoee.commands import deploy_cmds

    env = _block_env(credentials_block, bucket_block)
    raise typer.Exit(deploy_cmds.deploy(directory, pool, image, worker_dir, env or None, shards))


def _block_env(credentials_block: str | None, bucket_block: str | None) -> dict[str, str]:
    """Block names as the ``HAOEE_*_BLOCK`` variables a run (or a worker's job) reads."""
    env = {"HAOEE_CREDENTIALS_BLOCK": credentials_block, "HAOEE_BUCKET_BLOCK": bucket_block}
    return {name: value for name, value in env.items() if value}
