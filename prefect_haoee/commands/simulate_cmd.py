"""``haoee simulate``: the gateway simulator in the foreground, and with ``--with-s3`` a local
S3 server beside it: everything the README's own-flow example needs, on this machine.

``--with-s3`` starts moto's S3 server (:mod:`~prefect_haoee.commands.local_s3`, the demo's),
creates the bucket and prints the ``export`` lines for the shell that runs the flow. Both
servers run in this process and stop together on Ctrl-C, SIGTERM or SIGHUP (the command
runs inside ``commands.stopping.stop_signals``, exit 130 or 143 like every command).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import typer

from prefect_haoee.commands import logs
from prefect_haoee.commands.render import console, errors

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


def simulator_config(
    options: dict[str, Any], fault_rate: list[str], fault_script: list[str]
) -> Any:
    """The ``SimulatorConfig`` of the command's options; an invalid one is said on stderr
    and exits 2."""
    from pydantic import ValidationError

    try:
        return _config(options, fault_rate, fault_script)
    except (ValueError, ValidationError) as exc:
        typer.echo(f"invalid option: {exc}", err=True)
        raise typer.Exit(EXIT_INVALID) from None


def _config(options: dict[str, Any], fault_rate: list[str], fault_script: list[str]) -> Any:
    from prefect_haoee.simulator.config import SimulatorConfig, parse_fault_rates

    rates: dict[str, float] = {}
    for spec in fault_rate:
        rates.update(parse_fault_rates(spec))
    script: dict[str, str] = {}
    for spec in fault_script:
        for part in filter(None, (p.strip() for p in spec.split(","))):
            where, sep, name = part.partition("=")
            if not sep:
                raise ValueError(f"expected ACTION:N=FAULT, got {part!r}")
            script[where.strip()] = name.strip()
    return SimulatorConfig.model_validate({**options, "fault_rates": rates, "fault_script": script})


def exports(base_url: str, key: str | None, s3_url: str | None = None) -> list[str]:
    """The lines to paste into the shell that runs a flow against these servers."""
    from prefect_haoee.commands.local_s3 import LOCAL_AWS

    lines = [f"export HAOEE_BASE_URL={base_url}", f"export HAOEE_API_KEY={key or ''}"]
    if s3_url is not None:
        lines.append(f"export AWS_ENDPOINT_URL={s3_url}")
        lines += [f"export {name}={value}" for name, value in LOCAL_AWS.items()]
    return lines


def serve_alone(config: Any, host: str, port: int) -> int:
    """The simulator in the foreground until Ctrl-C (exit 0), or 1 when it cannot listen."""
    from prefect_haoee.simulator.server import serve

    def ready(base_url: str) -> None:
        typer.echo(f"Haoee gateway simulator listening on {base_url}")
        for line in exports(base_url, config.primary_key):
            typer.echo(f"  {line}")
        typer.echo(f"  stats: {base_url}/_sim/stats   (Ctrl-C to stop)")

    try:
        serve(config, host=host, port=port, on_ready=ready)
    except OSError as exc:
        typer.echo(f"cannot listen on {host}:{port}: {exc}", err=True)
        return EXIT_FAILED
    except KeyboardInterrupt:
        pass
    return EXIT_OK


def with_s3(config: Any, host: str, port: int, s3_port: int, bucket: str) -> int:
    """Simulator and S3 server until a stop signal (``KeyboardInterrupt`` out of here)."""
    from prefect_haoee.commands.local_s3 import create_bucket, local_s3, moto_missing
    from prefect_haoee.commands.render import say_error
    from prefect_haoee.simulator.server import run_simulator

    if moto_missing("haoee simulate --with-s3"):
        return EXIT_INVALID
    logs.route_logs(errors)  # moto's access log to the debug log (-v: the terminal too)
    with ExitStack() as stack:
        try:
            sim = stack.enter_context(run_simulator(config, host=host, port=port))
            s3_url = stack.enter_context(local_s3(host, s3_port))
        except OSError as exc:
            say_error((f"cannot listen on {host}: {exc}", "bold red"))
            return EXIT_FAILED
        create_bucket(s3_url, bucket)
        say = _say()
        say(f"Haoee gateway simulator listening on {sim.base_url}")
        say(f"S3 server (moto) listening on {s3_url}, bucket {bucket!r} created")
        say("In the shell that runs your flow:")
        for line in exports(sim.base_url, config.primary_key, s3_url):
            say(f"  {line}")
        say(f"  # and use bucket_name={bucket!r} (S3Bucket(bucket_name={bucket!r}))")
        say(f"stats: {sim.base_url}/_sim/stats   (Ctrl-C to stop both)")
        threading.Event().wait()  # until a stop signal: KeyboardInterrupt unwinds the stack
    return EXIT_OK  # pragma: no cover - only a signal ends the wait


def _say() -> Callable[[str], None]:
    def say(text: str) -> None:
        console.print(text, soft_wrap=True)

    return say
