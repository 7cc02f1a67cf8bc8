"""Serve the simulator: in a background thread (``run_simulator``) or in the foreground.

with run_simulator(SimulatorConfig(latency_ms=0)) as sim:
    httpx.post(f"{sim.base_url}/volcv/v1?Action=CVProcess&Version=2022-08-31",
               headers={"Authorization": f"Bearer {sim.api_key}"}, json=body)
    print(sim.stats()["billable_generations"])
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn

from prefect_haoee.client.catalog import ModelSpec
from prefect_haoee.simulator.app import create_app
from prefect_haoee.simulator.config import SimulatorConfig
from prefect_haoee.simulator.families import FAMILIES, SimFamily

STARTUP_TIMEOUT_S = 30.0


class _Server(uvicorn.Server):
    """A uvicorn server that tells another thread when it is ready to accept calls."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted sockets only then
    # (without it, keep-alive calls stall ~40 ms on Nagle + delayed ACK).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def uvicorn_config(app: Any, *, log_level: str = "warning") -> uvicorn.Config:
    return uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=2,
        timeout_keep_alive=30,
    )


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


@dataclass
class SimulatorHandle:
    """A running simulator: where it is, which key to use, and its control endpoints."""

    base_url: str
    """``http://127.0.0.1:PORT`` (no trailing slash); the Haoee path is ``/volcv/v1``."""
    api_key: str | None
    config: SimulatorConfig
    host: str
    port: int
    _http: httpx.Client = field(repr=False)

    @property
    def volcv_url(self) -> str:
        return f"{self.base_url}/volcv/v1"

    @property
    def sdk_host(self) -> str:
        """``host:port`` for ``VisualService.set_host`` (with ``set_scheme("http")``)."""
        return f"{url_host(self.host)}:{self.port}"

    def stats(self) -> dict[str, Any]:
        response = self._http.get("/_sim/stats")
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def ledger(self) -> list[dict[str, Any]]:
        response = self._http.get("/_sim/ledger")
        response.raise_for_status()
        entries: list[dict[str, Any]] = response.json()["entries"]
        return entries

    def reset(self, seed: int | None = None) -> None:
        """Forget ledger, tasks, files and counters; restart the seeded streams."""
        payload = {} if seed is None else {"seed": seed}
        self._http.post("/_sim/reset", json=payload).raise_for_status()

    def advance_clock(self, seconds: float) -> None:
        """Move the simulator's clock forward (tasks, URL expiry, QPS window)."""
        self._http.post("/_sim/clock/advance", json={"seconds": seconds}).raise_for_status()


@contextmanager
def run_simulator(
    config: SimulatorConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    catalog: Mapping[str, ModelSpec] | None = None,
    families: Sequence[SimFamily] | None = None,
    log_level: str = "warning",
) -> Iterator[SimulatorHandle]:
    """Serve the simulator on ``host:port`` (port 0: a free one) in a background thread;
    ``families`` replaces the simulated families (default: all of them)."""
    cfg = config or SimulatorConfig()
    sock = bind_socket(host, port)
    app = create_app(cfg, catalog=catalog, families=FAMILIES if families is None else families)
    server = _Server(uvicorn_config(app, log_level=log_level))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="haoee-simulator", daemon=True
    )
    thread.start()
    try:
        while not server.ready.wait(0.05):
            if not thread.is_alive():
                raise RuntimeError("the simulator server stopped during startup")
        bound_port = sock.getsockname()[1]
        base_url = f"http://{url_host(host)}:{bound_port}"
        with httpx.Client(base_url=base_url, timeout=30.0) as http:
            yield SimulatorHandle(base_url, cfg.primary_key, cfg, host, bound_port, http)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def serve(
    config: SimulatorConfig,
    *,
    host: str = "127.0.0.1",
    port: int = 8700,
    log_level: str = "warning",
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve in the foreground until Ctrl-C. ``on_ready(base_url)`` runs once bound."""
    sock = bind_socket(host, port)
    base_url = f"http://{url_host(host)}:{sock.getsockname()[1]}"
    if on_ready is not None:
        on_ready(base_url)
    server = uvicorn.Server(uvicorn_config(create_app(config), log_level=log_level))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
