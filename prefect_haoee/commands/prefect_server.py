"""Which Prefect API a command talks to, and the Prefect server processes the CLI starts.

In order: ``PREFECT_API_URL`` (environment, profile or ``prefect.toml``); else a Prefect
server already running on this machine at ``PREFECT_SERVER_API_HOST:PORT`` (default
127.0.0.1:4200: ``haoee server start`` or ``prefect server start``); else a temporary
server started for this command, which stops with it. A temporary server waits up to
``PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS`` when the user set it, else 180 s (a
loaded 2-core machine needs ~30 s; Prefect's own default of 20 s fails there).

The choice is made before anything of Prefect runs: the API URL goes to the environment
and Prefect's settings are reloaded from it (``refresh_global_settings_context``), so
clients, the log and event workers and subprocesses all read the same URL. The server's
own output goes to the debug log, never to the terminal.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from prefect_haoee.commands import children

EXIT_UNREACHABLE = 3
"""Exit code of a command that could not reach Prefect, S3 or the gateway."""

DEFAULT_STARTUP_TIMEOUT_S = 180
PROBE_TIMEOUT_S = 10.0
GRACEFUL_SHUTDOWN_S = 3
"""Uvicorn's wait for open requests once asked to stop (its default: for ever)."""
STOP_TIMEOUT_S = 10.0
"""SIGKILL to a server still up this long after SIGTERM (SQLite in WAL mode survives it)."""
SKIP_WAIT_HINT = (
    "`haoee server start` once (or PREFECT_API_URL pointing at a running server) skips this wait"
)


class PrefectUnreachable(Exception):
    """No Prefect API answered (refused, timed out, or a server that did not start)."""

    def __init__(self, where: str, reason: str, hint: str = "") -> None:
        self.where = where
        self.reason = reason
        self.hint = hint
        super().__init__(f"cannot reach the Prefect API at {where}: {reason}")


@dataclass
class PrefectApi:
    api_url: str
    how: str
    """"PREFECT_API_URL", "local server" or "temporary server"."""
    ui_url: str | None


def probe(api_url: str, timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """None when something answers HTTP at ``api_url``/health, else why not."""
    try:
        httpx.get(f"{api_url.rstrip('/')}/health", timeout=timeout)
    except httpx.TimeoutException:
        return f"no answer within {timeout:.0f} s"
    except httpx.HTTPError as exc:
        return _reason(exc)
    return None


def healthy(api_url: str, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """True when a Prefect server at ``api_url`` reports itself healthy."""
    try:
        response = httpx.get(f"{api_url.rstrip('/')}/health", timeout=timeout)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if "Connection refused" in text or "Errno 111" in text:
        return "connection refused"
    return text.splitlines()[0][:200]


def local_address(host: str, port: int) -> str:
    """``http://host:port`` of a server bound to ``host`` (any-address binds: loopback)."""
    if host in ("", "0.0.0.0", "::", "[::]"):
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def use_api_url(api_url: str) -> None:
    """Make ``api_url`` the Prefect API of this process and of its children."""
    from prefect.context import refresh_global_settings_context

    os.environ["PREFECT_API_URL"] = api_url
    refresh_global_settings_context()


class ServerProcess:
    """A Prefect server (uvicorn) on 127.0.0.1, its output appended to ``log``.

    ``temporary`` serves the API only, with Prefect's ephemeral-mode services (what Prefect
    starts itself without an API URL); otherwise the UI and every service, as ``prefect
    server start`` does. ``detached`` servers outlive this process (``haoee server start``).
    """

    def __init__(
        self,
        log: Path,
        *,
        port: int | None = None,
        temporary: bool = True,
        detached: bool = False,
    ) -> None:
        self.log = log
        self.port = port
        self.fixed_port = port is not None
        self.temporary = temporary
        self.detached = detached
        self.process: subprocess.Popen[bytes] | None = None
        self._out: IO[bytes] | None = None

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.address}/api"

    def _environment(self) -> dict[str, str]:
        from prefect.settings import get_current_settings

        env = {**os.environ, **get_current_settings().to_environment_variables(exclude_unset=True)}
        env.pop("PREFECT_API_URL", None)
        env["PREFECT__SERVER_FINAL"] = "1"
        env["PREFECT_SERVER_UI_ENABLED"] = "0" if self.temporary else "1"
        env["PREFECT_SERVER_UI_API_URL"] = self.api_url  # the UI calls this server's API
        if self.temporary:
            env["PREFECT__SERVER_EPHEMERAL"] = "1"
        # No usage data sent from the servers we start (nor, as the SDK asks its server,
        # from this process) unless the user set it: `haoee demo` promises no network.
        env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        return env

    def _spawn(self) -> subprocess.Popen[bytes]:
        import prefect

        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._out = self.log.open("ab")
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "--app-dir",
            str(prefect.__module_path__.parent),
            "--factory",
            "prefect.server.api.server:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
            "--lifespan",
            "on",
            "--timeout-graceful-shutdown",
            str(GRACEFUL_SHUTDOWN_S),
        ]
        return children.spawn(
            command, env=self._environment(), output=self._out, detached=self.detached
        )

    def start(self, timeout: float) -> None:
        """Start and wait (up to ``timeout`` s) until the API answers; PrefectUnreachable
        with the end of the server's log if it does not."""
        try:
            self._start(timeout)
        except BaseException:  # Ctrl-C or SIGTERM while waiting too: no server left behind
            self.stop()
            raise

    def _start(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for attempt in range(3):  # a port taken between free_port() and the bind: another one
            if attempt:
                self.stop()  # the one that exited
            if self.port is None or attempt:
                self.port = free_port()
            self.process = self._spawn()
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    break
                if healthy(self.api_url, timeout=5):
                    return
                time.sleep(0.25)  # a child's readiness over HTTP: nothing to await
            else:
                self.stop()
                raise PrefectUnreachable(
                    self.address,
                    f"the Prefect server did not start within {timeout:.0f} s",
                    "raise PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, or start one "
                    "server for every run with `haoee server start`",
                )
            if self.fixed_port or "address already in use" not in self.log_tail().lower():
                break
        self.stop()
        raise PrefectUnreachable(
            self.address, f"the Prefect server exited: {self.log_tail(3) or 'no output'}"
        )

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Stop the server's process group (SIGTERM, SIGKILL after ``timeout`` s)."""
        process, self.process = self.process, None
        if process is not None:
            children.stop(process, timeout)
        if self._out is not None:
            self._out.close()
            self._out = None

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])


@contextmanager
def _first_start_lock(home: Path) -> Iterator[None]:
    """Temporary servers of one Prefect home share its SQLite database: the first one
    creates it (migrations), so a start on a home without a database waits for the
    others and holds them until its server answers. Later starts run side by side. No
    lock where ``fcntl`` does not exist."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    home.mkdir(parents=True, exist_ok=True)
    with (home / "haoee-server-start.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            if (home / "prefect.db").exists():
                fcntl.flock(handle, fcntl.LOCK_UN)
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def startup_timeout() -> int:
    """The user's PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS (any Prefect settings
    source), else a default that survives a loaded machine."""
    from prefect.settings import get_current_settings

    ephemeral = get_current_settings().server.ephemeral
    if "startup_timeout_seconds" in ephemeral.model_fields_set:
        return int(ephemeral.startup_timeout_seconds)
    return DEFAULT_STARTUP_TIMEOUT_S


def drain_prefect(timeout: float = 60.0) -> None:
    """Ship this process's queued Prefect logs and events (before a server we started
    stops: afterwards they would be retried against a closed port at exit)."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=timeout)
    EventsWorker.drain_all(timeout=timeout)


def connect(
    stack: ExitStack, say: Callable[[str], None], *, log: Path, ui: bool = False
) -> PrefectApi:
    """Choose the Prefect API of this command (see the module docstring); a server this
    starts is stopped when ``stack`` closes. PrefectUnreachable if none answers.

    ``ui``: when no server runs, start one with its UI (``haoee demo --keep``) in place of
    the temporary API-only one."""
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    if settings.api.url:
        url = str(settings.api.url)
        reason = probe(url, timeout=30)
        if reason is not None:
            raise PrefectUnreachable(
                url,
                reason,
                "is the server running (`haoee server status`)? Unset PREFECT_API_URL to "
                "use a local or temporary server",
            )
        ui_url = settings.ui_url
        return PrefectApi(url, "PREFECT_API_URL", str(ui_url) if ui_url else None)
    local = local_address(settings.server.api.host, settings.server.api.port)
    if healthy(f"{local}/api"):
        use_api_url(f"{local}/api")
        return PrefectApi(f"{local}/api", "local server", local)
    timeout = startup_timeout()
    what = "a Prefect server with its UI" if ui else "a temporary Prefect server for this run"
    say(f"Starting {what} (up to {timeout} s on a busy machine); {SKIP_WAIT_HINT}.")
    server = ServerProcess(log, temporary=not ui)
    with _first_start_lock(Path(settings.home)):
        stack.callback(server.stop)
        server.start(timeout)
    use_api_url(server.api_url)
    stack.callback(drain_prefect)  # runs before the server stops
    if ui:
        return PrefectApi(server.api_url, "kept server", server.address)
    return PrefectApi(server.api_url, "temporary server", None)


def unreachable_cause(exc: BaseException) -> str | None:
    """Why ``exc`` (or an exception it was raised from) is a failure to reach a service:
    a short reason, or None for any other error."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, PrefectUnreachable):
            return current.reason
        if isinstance(current, httpx.TransportError):
            return _reason(current)
        if isinstance(current, ConnectionError):
            return _reason(current)
        if isinstance(current, RuntimeError) and "ephemeral Prefect API" in str(current):
            return "the temporary Prefect server did not start"
        current = current.__cause__ or current.__context__
    return None
