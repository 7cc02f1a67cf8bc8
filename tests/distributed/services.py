"""Real services for the distributed suite: PostgreSQL, Redis, a Prefect server, workers.

Each runs as its own process on a free 127.0.0.1 port in a temporary directory, is
awaited by polling with a deadline (never a fixed sleep) and is stopped by the fixture
that started it. PostgreSQL refuses to run as root, so its cluster belongs to an
unprivileged system user (``haoee-pg``, created when missing; else ``nobody``).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx

from tests.support import free_port, redis_server_args

T = TypeVar("T")
BIN = Path(sys.executable).parent
PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_USER = "haoee-pg"


def wait_for(
    probe: Callable[[], T | None],
    what: str,
    timeout: float,
    *,
    interval: float = 0.1,
    alive: Callable[[], bool] | None = None,
) -> T:
    """Poll ``probe`` until it returns something other than None/False, or fail."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None and value is not False:
            return value
        if alive is not None and not alive():
            raise RuntimeError(f"{what}: the process exited")
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f}s")
        time.sleep(interval)


@dataclass
class Service:
    """A process we started (in its own session, so a kill reaches its children)."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, chars: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def tree(self) -> list[int]:
        """This process and all its descendants (flow runs start in sessions of their own,
        so a process group does not hold them)."""
        return [self.proc.pid, *descendants(self.proc.pid)]

    def kill_tree(self) -> list[int]:
        """SIGKILL the process and everything it started (a machine that dies); return
        the pids killed."""
        pids = self.tree()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        return pids

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill_tree()
        else:
            # Children of a process that already ended (flow runs of a worker).
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)


def _parents() -> dict[int, int]:
    out: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after the last ")".
        out[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return out


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for child, parent in _parents().items():
        children.setdefault(parent, []).append(child)
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def pid_alive(pid: int) -> bool:
    """Running (not gone, not a zombie waiting to be reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def spawn(name: str, args: list[str], log: Path, env: dict[str, str] | None = None) -> Service:
    handle = log.open("ab")
    try:
        proc = subprocess.Popen(
            args,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    finally:
        handle.close()
    return Service(name, proc, log)


# -- PostgreSQL ------------------------------------------------------------------------


def postgres_user() -> str:
    """An unprivileged user to own the cluster: ``haoee-pg`` (created once), or ``nobody``."""
    try:
        pwd.getpwnam(PG_USER)
        return PG_USER
    except KeyError:
        pass
    if os.geteuid() == 0 and shutil.which("useradd"):
        made = subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_USER],
            capture_output=True,
            check=False,
        )
        if made.returncode == 0:
            return PG_USER
    return "nobody"


def _as_user(user: str, *args: str) -> list[str]:
    return ["runuser", "-u", user, "--", *args] if os.geteuid() == 0 else list(args)


@dataclass
class Postgres:
    url: str
    """``postgresql+asyncpg://postgres@127.0.0.1:PORT/postgres``"""
    data_dir: Path
    user: str
    port: int

    def stop(self) -> None:
        subprocess.run(
            _as_user(self.user, str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "stop"),
            capture_output=True,
            check=False,
            timeout=60,
        )
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)


def start_postgres() -> Postgres:
    """initdb + pg_ctl start on a free port in a fresh directory owned by the PG user."""
    if not (PG_BIN / "initdb").exists():
        raise RuntimeError(f"PostgreSQL 15 not found in {PG_BIN}")
    user = postgres_user()
    root = Path(tempfile.mkdtemp(prefix="haoee-pg-"))
    data, sockets = root / "data", root / "run"
    sockets.mkdir()
    shutil.chown(root, user=user)
    shutil.chown(sockets, user=user)
    port = free_port()
    subprocess.run(
        _as_user(
            user,
            str(PG_BIN / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ),
        capture_output=True,
        check=True,
        timeout=120,
    )
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
    options += " -c max_connections=200"
    subprocess.run(
        _as_user(
            user,
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(root / "postgres.log"),
            "-w",
            "-t",
            "60",
            "start",
        ),
        capture_output=True,
        check=True,
        timeout=90,
    )
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{port}/postgres"
    return Postgres(url, data, user, port)


# -- Redis -----------------------------------------------------------------------------


def start_redis(root: Path) -> tuple[Service, str]:
    """``redis-server`` on a free port, no persistence, in ``root``."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (apt-get install -y redis-server)")
    port = free_port()
    service = spawn("redis", redis_server_args(binary, port, root), root / "redis.log")
    url = f"redis://127.0.0.1:{port}/0"

    def answers() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    wait_for(answers, "redis-server", 30, interval=0.05, alive=service.alive)
    return service, url


# -- Prefect server and workers --------------------------------------------------------


def base_env(prefect_home: Path, **extra: str) -> dict[str, str]:
    """This process's environment without PREFECT_* (never the user's profile), plus
    a fresh PREFECT_HOME and offline analytics."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "HAOEE_"))}
    env.update(
        {
            "PREFECT_HOME": str(prefect_home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            "PYTHONUNBUFFERED": "1",
            "COLUMNS": "200",
        }
    )
    env.update(extra)
    return env


def start_prefect_server(root: Path, database_url: str) -> tuple[Service, str]:
    """``prefect server start`` on PostgreSQL; returns it and its API URL once healthy."""
    port = free_port()
    home = root / "server-home"
    home.mkdir(parents=True, exist_ok=True)
    env = base_env(
        home,
        PREFECT_API_DATABASE_CONNECTION_URL=database_url,
        PREFECT_UI_ENABLED="false",
        # Leases of a killed holder are repossessed within a second of expiring.
        PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS="1",
        PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED="false",
        PREFECT_LOGGING_SERVER_LEVEL="WARNING",
    )
    args = [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    service = spawn("prefect-server", args, root / "prefect-server.log", env)
    api = f"http://127.0.0.1:{port}/api"

    def healthy() -> bool:
        try:
            return httpx.get(f"{api}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(healthy, "prefect server", 180, interval=0.25, alive=service.alive)
    except (TimeoutError, RuntimeError) as exc:
        service.stop()
        raise RuntimeError(f"{exc}\n{service.tail()}") from None
    return service, api


def start_worker(
    name: str, pool: str, root: Path, env: dict[str, str], queues: list[str], limit: int
) -> Service:
    """``prefect worker start --pool POOL`` (a process worker) on these work queues, at most
    ``limit`` flow runs at a time."""
    args = [str(BIN / "prefect"), "worker", "start", "--pool", pool, "--name", name]
    args += ["--type", "process", "--limit", str(limit)]
    for queue in queues:
        args += ["--work-queue", queue]
    return spawn(name, args, root / f"{name}.log", env)
