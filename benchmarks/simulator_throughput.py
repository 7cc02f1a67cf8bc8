"""Throughput of the gateway simulator: N CVProcess calls at concurrency 32.

Serves the simulator (latency 0, no faults, no caps) on 127.0.0.1 and drives it with
``httpx.AsyncClient`` (8 connections per client); every request has its own seed (no two
bodies alike). Prints one JSON line.

    .venv/bin/python benchmarks/simulator_throughput.py [--requests 2000] [--concurrency 32]
        [--base64]           # inline images (return_url false): measures rendering too
        [--server process]   # simulator in its own process (`haoee simulate`), not a thread

``--server thread`` (the default) is how tests run it (``run_simulator``): the server
thread and the client share one interpreter, so the figure includes the client's cost
and GIL hand-offs. ``--server process`` gives the simulator its own core and also reports
its CPU time per request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from prefect_haoee.simulator import SimulatorConfig, run_simulator

API_KEY = "bench-key"


def body(i: int, *, inline: bool) -> dict[str, Any]:
    return {
        "req_key": "high_aes_general_v20_L",
        "prompt": f"benchmark prompt {i}",
        "seed": i,
        "scale": 3.5,
        "ddim_steps": 16,
        "width": 512,
        "height": 512,
        "use_sr": False,
        "return_url": not inline,
    }


async def drive(
    base_url: str, n: int, concurrency: int, *, inline: bool, per_client: int = 8
) -> tuple[float, list[float]]:
    """Run ``n`` calls with ``concurrency`` workers.

    Workers are spread over several AsyncClients of ``per_client`` connections each: one
    pool of 32 spends most of the CPU scanning its connections (httpcore's pool is
    O(connections) per event), which would measure the driver instead of the simulator.
    """
    url = f"{base_url}/volcv/v1?Action=CVProcess&Version=2022-08-31"
    headers = {"Authorization": f"Bearer {API_KEY}"}
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)
    n_clients = max(1, -(-concurrency // per_client))
    limits = httpx.Limits(max_connections=per_client, max_keepalive_connections=per_client)
    clients = [httpx.AsyncClient(limits=limits, timeout=60) for _ in range(n_clients)]

    async def worker(client: httpx.AsyncClient) -> None:
        while True:
            try:
                i = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            t0 = time.perf_counter()
            response = await client.post(url, headers=headers, json=body(i, inline=inline))
            latencies.append(time.perf_counter() - t0)
            if response.status_code != 200 or response.json()["code"] != 10000:
                raise RuntimeError(f"unexpected answer: {response.text[:200]}")

    try:
        # warm-up (connections, first render) outside the measurement
        for client in clients:
            await client.post(url, headers=headers, json=body(10**9, inline=inline))
        start = time.perf_counter()
        await asyncio.gather(*(worker(clients[w % n_clients]) for w in range(concurrency)))
        return time.perf_counter() - start, latencies
    finally:
        for client in clients:
            await client.aclose()


@contextmanager
def served_in_thread() -> Iterator[str]:
    config = SimulatorConfig(api_keys=(API_KEY,), latency_ms=0, latency_sigma=0)
    with run_simulator(config) as sim:
        yield sim.base_url


@contextmanager
def served_in_process() -> Iterator[str]:
    cmd = [
        sys.executable,
        "-c",
        "from prefect_haoee.cli import app; app()",
        "simulate",
        "--port=0",
        "--latency-ms=0",
        "--latency-sigma=0",
        f"--api-key={API_KEY}",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        match = re.search(r"(http://\S+)", proc.stdout.readline())
        if match is None:
            raise RuntimeError("the simulator did not print its URL")
        yield match.group(1)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--base64", action="store_true", help="inline images (return_url false)")
    parser.add_argument("--server", choices=("thread", "process"), default="thread")
    args = parser.parse_args()

    serve = served_in_thread if args.server == "thread" else served_in_process
    with serve() as base_url:
        before = httpx.get(f"{base_url}/_sim/stats").json()["process_cpu_s"]
        seconds, latencies = asyncio.run(
            drive(base_url, args.requests, args.concurrency, inline=args.base64)
        )
        stats = httpx.get(f"{base_url}/_sim/stats").json()
    warmups = max(1, -(-args.concurrency // 8))
    if stats["billable_generations"] != args.requests + warmups:
        raise RuntimeError(f"ledger counted {stats['billable_generations']} generations")
    quantiles = statistics.quantiles(latencies, n=100)
    result: dict[str, Any] = {
        "benchmark": "simulator_throughput",
        "requests": args.requests,
        "concurrency": args.concurrency,
        "mode": "base64" if args.base64 else "url",
        "server": args.server,
        "seconds": round(seconds, 3),
        "requests_per_s": round(args.requests / seconds, 1),
        "p50_ms": round(quantiles[49] * 1000, 2),
        "p95_ms": round(quantiles[94] * 1000, 2),
    }
    if args.server == "process":
        cpu_ms = (stats["process_cpu_s"] - before) * 1000 / args.requests
        result["server_cpu_ms_per_request"] = round(cpu_ms, 3)
    result["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
