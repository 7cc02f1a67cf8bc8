"""``haoee server start | stop | status``: one local Prefect server that every run uses.

``start`` runs a Prefect server with its UI in the background on 127.0.0.1 at
``PREFECT_SERVER_API_PORT`` (4200), its output in ``$PREFECT_HOME/haoee-server.log`` and
its pid in ``$PREFECT_HOME/server.pid`` (the file ``prefect server stop`` reads too).
``haoee run``, ``serve`` and ``demo`` without ``PREFECT_API_URL`` find it there and skip the
temporary server; ``prefect`` commands and workers do not, so ``start`` prints the
``export PREFECT_API_URL=...`` line they need.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from prefect_haoee.client.redact import redact_url, redact_urls
from prefect_haoee.commands.prefect_server import (
    EXIT_UNREACHABLE,
    PrefectUnreachable,
    ServerProcess,
    healthy,
    local_address,
    probe,
    startup_timeout,
)
from prefect_haoee.commands.render import console, say_error

PID_FILE = "server.pid"


def _home() -> Path:
    from prefect.settings import get_current_settings

    return Path(get_current_settings().home)


def start(port: int | None) -> int:
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    default_port = settings.server.api.port
    port = port or default_port
    address = local_address("127.0.0.1", port)
    if healthy(f"{address}/api"):
        console.print(f"A Prefect server is already running at {address}")
        _say_what_to_export(address, port == default_port)
        return 0
    home = _home()
    server = ServerProcess(home / "haoee-server.log", port=port, temporary=False, detached=True)
    timeout = startup_timeout()
    console.print(f"Starting a Prefect server with its UI on {address} (up to {timeout} s) ...")
    try:
        server.start(timeout)
    except PrefectUnreachable as exc:
        say_error((str(exc), "bold red"))
        if exc.hint:
            say_error(f"  {exc.hint}; server log: {server.log}")
        return EXIT_UNREACHABLE
    assert server.process is not None
    (home / PID_FILE).write_text(str(server.process.pid))
    console.print(
        f"Prefect server running: UI {address}, API {address}/api (pid {server.process.pid})"
    )
    _say_what_to_export(address, port == default_port)
    return 0


def _say_what_to_export(address: str, found: bool) -> None:
    """The line to paste: `prefect` commands and workers know no server without it (each
    would start a temporary one of its own on the same database)."""
    if found:
        console.print(
            "`haoee run`, `haoee serve` and `haoee demo` find it by themselves; `haoee"
            " deploy` and `prefect` commands (work-pool create, deploy, worker start) need:"
        )
    else:
        console.print("Every command (haoee and prefect) needs, to find it on this port:")
    console.print(f"  export PREFECT_API_URL={address}/api", highlight=False, soft_wrap=True)
    console.print("Stop it with `haoee server stop`.")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop(timeout: float = 30.0) -> int:
    pid_file = _home() / PID_FILE
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        console.print("No Prefect server started in the background (no pid file).")
        return 0
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pid_file.unlink(missing_ok=True)
        console.print("The server had already stopped (stale pid file removed).")
        return 0
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)  # not our child: its exit cannot be awaited
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    console.print(f"Prefect server stopped (pid {pid}).")
    return 0


def status() -> int:
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    if settings.api.url:
        url = str(settings.api.url)
        reason = probe(url)
        shown = redact_url(url)  # a password in the URL is never printed
        if reason is None:
            console.print(f"PREFECT_API_URL {shown} answers: `haoee run` uses it.")
            return 0
        say_error((f"PREFECT_API_URL {shown} does not answer: {redact_urls(reason)}", "bold red"))
        return EXIT_UNREACHABLE
    address = local_address(settings.server.api.host, settings.server.api.port)
    if healthy(f"{address}/api"):
        console.print(f"A Prefect server runs at {address}: `haoee run` uses it.")
        return 0
    console.print(
        f"No Prefect server at {address}: `haoee run` starts a temporary one per run "
        "(`haoee server start` keeps one running)."
    )
    return EXIT_UNREACHABLE
