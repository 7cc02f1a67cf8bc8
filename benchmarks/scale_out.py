"""One 1,000-image campaign on 1 and on 2 workers against a Prefect server on PostgreSQL.

Prints one JSON line::

    {"benchmark": "scale_out", "images": 1000, "runs": [{"workers": 1, ...}, {"workers": 2, ...}],
     "machine": {...}}

Each run: a fresh output bucket and a fresh seed salt (nothing of the other run is
reused), ``prefect worker start`` processes on one process pool (the 2-worker run shards
the campaign in two, one shard per worker), and per run: wall time of the campaign's
flow run (images/s), CPU seconds per image of the workers (their flow-run processes
included), of the Prefect server and of PostgreSQL, what the simulator billed
(billable, distinct, duplicates, peak QPS) and the load average. The services are those
of the distributed test suite (``tests/distributed/services.py`` and ``support.py``,
imported from there): PostgreSQL 15 run as an unprivileged user, Redis, moto's S3 server,
the simulator in this process.

    python benchmarks/scale_out.py [--images 1000] [--latency-ms 200] [--qps 40] [--concurrency 8]

The machine is shared: the load average at the start and the end is in the line; figures
taken under load are upper bounds of the cost, lower bounds of the speed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

from _common import machine, quiet_logs  # noqa: E402

from tests.distributed.services import (  # noqa: E402
    Service,
    descendants,
    start_postgres,
    start_prefect_server,
    start_redis,
)
from tests.distributed.support import Cluster  # noqa: E402
from tests.support import SIM_KEY  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process, its live descendants and the children it has reaped."""
    total = 0.0
    for one in [pid, *descendants(pid)]:
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15]) / TICKS
    return total


def postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "postmaster.pid").read_text().split()[0])


def campaign_text(bucket: str, images: int, salt: str, qps: float, concurrency: int) -> str:
    prompts = max(1, images // 10)
    lines = [
        "name: scale-out",
        "model: high_aes_general_v20_L",
        "params: {width: 512, height: 512}",
        "variants: 10",
        f"seed_salt: {salt}",
        "prompts:",
    ]
    lines += [f'  - {{id: p{i:04d}, prompt: "a red shoe, view {i}"}}' for i in range(prompts)]
    lines += ["output:", f"  bucket: {bucket}", "budget:", f"  max_images: {prompts * 10}"]
    lines += [f"concurrency: {concurrency}", f"qps: {qps}"]
    return "\n".join(lines) + "\n"


def one_run(cluster: Cluster, workers: int, args: argparse.Namespace) -> dict[str, Any]:
    load_start = round(os.getloadavg()[0], 2)
    cluster.sim.reset(seed=15)
    cluster.new_output_bucket(f"bench-{uuid.uuid4().hex[:10]}")
    names = ["worker-a", "worker-b"][:workers]
    for name in names:
        cluster.start_worker(name)
    cluster.wait_workers_online(names)
    salt = uuid.uuid4().hex[:8]
    text = campaign_text(cluster.bucket, args.images, salt, args.qps, args.concurrency)
    folder = cluster.write_campaigns(f"bench-{workers}", {"scale-out": text})
    cluster.haoee("deploy", folder, "--pool", cluster.pool, "--shards", str(workers))
    cluster.set_queue("haoee-campaign/scale-out", "coord")  # worker-a
    before = {name: tree_cpu(cluster.workers[name].proc.pid) for name in names}
    server_before, db_before = tree_cpu(args.server_pid), tree_cpu(args.db_pid)
    [run_id] = cluster.start_runs(["haoee-campaign/scale-out"])
    [run] = cluster.wait_final([run_id], timeout=args.timeout)
    worker_cpu = sum(tree_cpu(cluster.workers[n].proc.pid) - before[n] for n in names)
    server_cpu = tree_cpu(args.server_pid) - server_before
    db_cpu = tree_cpu(args.db_pid) - db_before
    ledger = cluster.ledger()
    wall = (run.end_time - run.start_time).total_seconds()
    for name in names:
        cluster.workers.pop(name).stop()
    return {
        "workers": workers,
        "shards": workers,
        "state": run.state_name,
        "wall_s": round(wall, 2),
        "images_per_s": round(args.images / wall, 2),
        "worker_cpu_s_per_image": round(worker_cpu / args.images, 4),
        "server_cpu_s_per_image": round(server_cpu / args.images, 4),
        "postgres_cpu_s_per_image": round(db_cpu / args.images, 4),
        **ledger.as_dict(),
        "loadavg_1m": [load_start, round(os.getloadavg()[0], 2)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--qps", type=float, default=40.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=1800.0)
    args = parser.parse_args()
    quiet_logs()
    load_at_start = round(os.getloadavg()[0], 2)

    from moto.server import ThreadedMotoServer

    from prefect_haoee.simulator.config import SimulatorConfig
    from prefect_haoee.simulator.server import run_simulator

    root = Path(tempfile.mkdtemp(prefix="haoee-bench-"))
    pg = start_postgres()
    services: list[Service] = []
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    try:
        redis_service, redis_url = start_redis(root)
        services.append(redis_service)
        server, api = start_prefect_server(root, pg.url)
        services.append(server)
        args.server_pid, args.db_pid = server.proc.pid, postmaster_pid(pg.data_dir)
        host, port = moto.get_host_and_port()
        config = SimulatorConfig(
            api_keys=(SIM_KEY,), latency_ms=args.latency_ms, latency_sigma=0.2, seed=15
        )
        with run_simulator(config) as sim:
            cluster = Cluster.create(root, api, redis_url, f"http://{host}:{port}", sim)
            try:
                runs = [one_run(cluster, workers, args) for workers in (1, 2)]
            finally:
                for worker in cluster.workers.values():
                    worker.stop()
    finally:
        for service in reversed(services):
            service.stop()
        moto.stop()
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)
    line = {
        "benchmark": "scale_out",
        "images": args.images,
        "latency_ms": args.latency_ms,
        "qps": args.qps,
        "concurrency": args.concurrency,
        "runs": runs,
        "machine": machine(load_at_start),
    }
    print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
