"""Shared parts of the campaign benchmarks: services on loopback, isolation, machine info.

The gateway simulator and moto's S3 server each run in a process of their own by default
(``--services process``): in production they are remote, and sharing the benchmark's
interpreter would bill their CPU (PNG rendering, werkzeug request parsing) to the client
side. ``--services thread`` serves both inside the benchmark process, as the tests do.

Run as a script, this module *is* such a service process::

    python benchmarks/_common.py serve-s3
    python benchmarks/_common.py serve-sim --latency-ms 200 --sigma 0.1 --qps 50 --concurrency 10
    python benchmarks/_common.py serve-prefect   # PREFECT_API_URL, or a temporary server

Each prints one JSON line ``{"url": ...}`` and serves until its standard input closes.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

API_KEY = "bench-key"
NOISY_LOGGERS = (
    "werkzeug",
    "moto",
    "botocore",
    "boto3",
    "s3transfer",
    "urllib3",
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "httpx",
    "httpcore",
)


def quiet_logs() -> None:
    """Silence the per-request INFO logs of werkzeug (moto), uvicorn, boto and httpx."""
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


@dataclass
class SimSettings:
    latency_ms: float = 200.0
    sigma: float = 0.1
    qps: int | None = None
    concurrency: int | None = None
    seed: int = 7

    def args(self) -> list[str]:
        out = [f"--latency-ms={self.latency_ms}", f"--sigma={self.sigma}", f"--seed={self.seed}"]
        if self.qps is not None:
            out.append(f"--qps={self.qps}")
        if self.concurrency is not None:
            out.append(f"--concurrency={self.concurrency}")
        return out


@dataclass
class Services:
    """Where the gateway simulator and the S3 server listen."""

    sim_url: str
    s3_url: str
    api_key: str = API_KEY
    sim_pid: int | None = None
    """Pids of the service processes (None when served in threads of this process)."""
    s3_pid: int | None = None

    def sim_stats(self) -> dict[str, Any]:
        response = httpx.get(f"{self.sim_url}/_sim/stats", timeout=30)
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds of a live process (Linux ``/proc``), None if unknown."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def drain_prefect(timeout: float = 120.0) -> float:
    """Wait for this process's Prefect log and event workers to ship their queues;
    returns the seconds it took."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    started = time.perf_counter()
    APILogWorker.drain_all(timeout=timeout)
    EventsWorker.drain_all(timeout=timeout)
    return time.perf_counter() - started


def wait_idle(pid: int | None, *, busy: float = 0.1, timeout: float = 60.0) -> float:
    """Wait until process ``pid`` uses less than ``busy`` of a core over half a second
    (a Prefect server still writing the events of a run); returns the seconds waited."""
    started = time.perf_counter()
    before = cpu_seconds(pid)
    while before is not None and time.perf_counter() - started < timeout:
        time.sleep(0.5)
        now = cpu_seconds(pid)
        if now is None or now - before < busy * 0.5:
            break
        before = now
    return time.perf_counter() - started


def machine_busy_seconds() -> float | None:
    """CPU seconds all processes of the machine have used since boot (Linux ``/proc/stat``):
    the difference over a run, minus our own processes' CPU, is what others took."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    values = [int(v) for v in fields]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds used over a ``with`` block by this process, by the named processes, and
    by every other process of the machine (``other_processes``: noise in the figures)."""

    def __init__(self, pids: dict[str, int | None]) -> None:
        self.pids = pids
        self.seconds: dict[str, float] = {}

    def __enter__(self) -> CpuMeter:
        self._own = time.process_time()
        self._busy = machine_busy_seconds()
        self._theirs = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        return self

    def __exit__(self, *exc: object) -> None:
        busy = machine_busy_seconds()
        self.seconds = {"benchmark": round(time.process_time() - self._own, 2)}
        for name, pid in self.pids.items():
            now, then = cpu_seconds(pid), self._theirs[name]
            if now is not None and then is not None:
                self.seconds[name] = round(now - then, 2)
        if busy is not None and self._busy is not None:
            others = busy - self._busy - sum(self.seconds.values())
            self.seconds["other_processes"] = round(max(others, 0.0), 2)


def prefect_server_pid() -> int | None:
    """The pid of the temporary Prefect server this process started, if any."""
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer._instances.get(None)
    process = getattr(server, "server_process", None)
    return getattr(process, "pid", None)


@contextmanager
def service_process(kind: str, extra: list[str]) -> Iterator[tuple[dict[str, Any], int]]:
    """Run ``_common.py KIND`` in a process of its own: (its JSON line, its pid)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), kind, *extra]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {kind} service did not start")
        info: dict[str, Any] = json.loads(line)
        yield info, proc.pid
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def _moto_thread() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    quiet_logs()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@contextmanager
def _sim_thread(sim: SimSettings) -> Iterator[str]:
    from prefect_haoee.simulator import SimulatorConfig, run_simulator

    config = SimulatorConfig(
        api_keys=(API_KEY,),
        latency_ms=sim.latency_ms,
        latency_sigma=sim.sigma,
        qps=sim.qps,
        concurrency=sim.concurrency,
        seed=sim.seed,
    )
    with run_simulator(config) as handle:
        yield handle.base_url


@contextmanager
def services(sim: SimSettings, where: str = "process") -> Iterator[Services]:
    """The simulator and moto's S3 server on 127.0.0.1, in processes or threads."""
    with ExitStack() as stack:
        if where == "process":
            sim_info, sim_pid = stack.enter_context(service_process("serve-sim", sim.args()))
            s3_info, s3_pid = stack.enter_context(service_process("serve-s3", []))
            yield Services(sim_info["url"], s3_info["url"], sim_pid=sim_pid, s3_pid=s3_pid)
        else:
            sim_url = stack.enter_context(_sim_thread(sim))
            s3_url = stack.enter_context(_moto_thread())
            yield Services(sim_url=sim_url, s3_url=s3_url)


def point_client_at(svc: Services) -> None:
    """``HAOEE_*`` and AWS variables for the flow (read when the flow resolves settings)."""
    os.environ["HAOEE_API_KEY"] = svc.api_key
    os.environ["HAOEE_BASE_URL"] = svc.sim_url
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_REGION", "us-east-1")


def bucket_block(s3_url: str, name: str) -> Any:
    """A prefect-aws ``S3Bucket`` block for bucket ``name`` on the S3 server."""
    from prefect_aws import AwsClientParameters, AwsCredentials
    from prefect_aws.s3 import S3Bucket

    credentials = AwsCredentials(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
        aws_client_parameters=AwsClientParameters(endpoint_url=s3_url),
    )
    return S3Bucket(bucket_name=name, credentials=credentials)


def new_bucket(s3_url: str) -> Any:
    """A fresh bucket on the S3 server, as a prefect-aws ``S3Bucket`` block."""
    block = bucket_block(s3_url, f"bench-{uuid.uuid4().hex[:12]}")
    block.credentials.get_s3_client().create_bucket(Bucket=block.bucket_name)
    return block


@contextmanager
def isolated_prefect() -> Iterator[dict[str, Any]]:
    """Result storage and lock files in a temp dir, and a Prefect API.

    ``PREFECT_API_URL`` from the environment is used when set (no startup wait); otherwise
    a temporary server is started with ``prefect_test_harness`` (10-20 s).
    """
    from prefect.settings import PREFECT_API_URL, PREFECT_LOCAL_STORAGE_PATH, temporary_settings

    with ExitStack() as stack:
        state = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="haoee-bench-")))
        os.environ["HAOEE_LOCK_DIR"] = str(state / "locks")
        stack.enter_context(temporary_settings({PREFECT_LOCAL_STORAGE_PATH: state / "results"}))
        external = os.environ.get("PREFECT_API_URL")
        if not external:
            from prefect.testing.utilities import prefect_test_harness

            stack.enter_context(prefect_test_harness(server_startup_timeout=120))
        url = str(PREFECT_API_URL.value())
        yield {"api_url": url, "server": "external" if external else "temporary", "state": state}


def campaign_yaml(
    name: str, bucket: str, images: int, *, concurrency: int, qps: float, per_prompt: int = 10
) -> str:
    """A campaign of exactly ``images`` items (prompts x variants) of the sync model."""
    lines = [
        f"name: {name}",
        "model: high_aes_general_v20_L",
        "mode: sync",
        f"variants: {per_prompt}",
        "prompts:",
    ]
    left, index = images, 0
    while left > 0:
        count = min(per_prompt, left)
        lines.append(f"  - id: p{index:05d}")
        lines.append(f'    prompt: "benchmark product shot number {index}, studio light"')
        if count != per_prompt:
            lines.append(f"    variants: {count}")
        left -= count
        index += 1
    lines += [
        "output:",
        f"  bucket: {bucket}",
        "  prefix: campaigns/{name}/{date}",
        "budget:",
        f"  max_images: {images}",
        f"concurrency: {concurrency}",
        f"qps: {qps}",
    ]
    return "\n".join(lines) + "\n"


def machine(load_at_start: float | None = None) -> dict[str, Any]:
    """The machine, and its 1-minute load average at the start and now: other work on it
    (a test suite, another benchmark) skews every figure."""
    from importlib.metadata import version

    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "prefect": version("prefect"),
        "platform": platform.platform(terse=True),
        "loadavg_1m_at_start": load_at_start,
        "loadavg_1m_at_end": round(os.getloadavg()[0], 2),
    }


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation; 0.0 for no values."""
    if not values:
        return 0.0
    data = sorted(values)
    pos = (len(data) - 1) * q / 100.0
    low = int(pos)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (pos - low)


def _serve(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="_common.py")
    parser.add_argument("kind", choices=("serve-s3", "serve-sim", "serve-prefect"))
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--sigma", type=float, default=0.1)
    parser.add_argument("--qps", type=int, default=None)
    parser.add_argument("--concurrency", type=int, default=None)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    quiet_logs()
    if args.kind == "serve-prefect":
        with isolated_prefect() as info:
            line = {"url": info["api_url"], "state": str(info["state"])}
            print(json.dumps({**line, "server_pid": prefect_server_pid()}), flush=True)
            sys.stdin.read()
        return
    if args.kind == "serve-s3":
        context = _moto_thread()
    else:
        sim = SimSettings(args.latency_ms, args.sigma, args.qps, args.concurrency, args.seed)
        context = _sim_thread(sim)
    with context as url:
        print(json.dumps({"url": url}), flush=True)
        sys.stdin.read()  # until the parent closes our stdin


if __name__ == "__main__":
    _serve(sys.argv[1:])
