"""Memory scaling: peak RSS of a ``run_campaign`` process at 500 and at 5,000 images.

Each campaign runs in a fresh Python process (the sync model, the simulator's latency at
0 ms, no caps, ``concurrency: 10``); the gateway simulator, moto's S3 server and the
Prefect server run in processes of their own, so only the flow's process is measured.

Its peak RSS is the ``ru_maxrss`` that ``os.wait4`` returns for that child (stdlib, in KB on
Linux): the high-water mark of its whole life, imports, the run and Prefect's drain at
exit. Linux carries ``ru_maxrss`` across ``fork``+``exec``, so the children are started
from this parent, which never imports Prefect (about 30 MB): a parent holding a Prefect
server harness (about 200 MB) would put its own size into every child's figure. The child
also reports its ``VmHWM`` (peak RSS since exec, from ``/proc``) as a cross-check.

Goal (flat memory in campaign size): peak(50,000) / peak(500) <= 1.3
(``--images 500 50000``): items run in
batches from a fixed set of openers and workers (no coroutine per item), no image outlives
its item, finished items go to the spooled manifest (``flows.manifest_spool``), and the
result keeps counts and capped samples (``flows.tally``).

    .venv/bin/python benchmarks/memory_scaling.py [--images 500 5000] [--concurrency 10]
        [--per-prompt 1 --as-object]   # 5,000 prompts of one image, given as haoee run gives

Set ``PREFECT_API_URL`` to a running Prefect server to skip the 10-20 s server startup.
Prints one JSON line on stdout; the children's Prefect logs go to a temp file (its tail is
shown if a child fails).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

from _common import (
    SimSettings,
    bucket_block,
    campaign_yaml,
    machine,
    point_client_at,
    quiet_logs,
    service_process,
    services,
    wait_idle,
)

DAY = date(2026, 1, 16)
MB = 1024.0  # ru_maxrss is in KB on Linux


def proc_status_kb(field: str) -> int:
    """A ``/proc/self/status`` figure of this process in KB (``VmRSS``, ``VmHWM``), 0 if
    unknown."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def child(campaign: str, s3_url: str, bucket: str, as_object: str = "") -> None:
    """Run one campaign in this (fresh) process; print what it did as one JSON line.
    ``as_object``: load it first and pass the ``Campaign`` (what ``haoee run`` does)."""
    quiet_logs()
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    from prefect_haoee.flows import run_campaign

    block = bucket_block(s3_url, bucket)
    block.credentials.get_s3_client().create_bucket(Bucket=bucket)
    before = proc_status_kb("VmRSS")
    started = time.perf_counter()
    flow: Any = run_campaign
    given: Any = campaign
    if as_object:
        from prefect_haoee.campaigns import load_campaign

        given = load_campaign(campaign)
    state = asyncio.run(flow(given, run_date=DAY, bucket=block, return_state=True))
    seconds = time.perf_counter() - started
    result = state.result(raise_on_failure=False)
    after = proc_status_kb("VmRSS")
    APILogWorker.drain_all(timeout=120)
    EventsWorker.drain_all(timeout=120)
    out = {
        "state": state.name,
        "done": result.done,
        "failed": result.failed,
        "seconds": round(seconds, 2),
        "rss_before_flow_kb": before,
        "rss_after_flow_kb": after,
        "hwm_kb": proc_status_kb("VmHWM"),
    }
    print(json.dumps(out), flush=True)


def measure(
    images: int,
    s3_url: str,
    folder: Path,
    env: dict[str, str],
    concurrency: int,
    per_prompt: int = 10,
    as_object: bool = False,
) -> dict[str, Any]:
    """One campaign of ``images`` items in a child process; its peak RSS from wait4."""
    bucket = f"mem-{uuid.uuid4().hex[:12]}"
    path = folder / f"mem-{images}.yaml"
    path.write_text(
        campaign_yaml(
            f"mem-{images}",
            bucket,
            images,
            concurrency=concurrency,
            qps=10_000,
            per_prompt=per_prompt,
        )
    )
    log = folder / f"child-{images}.log"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(path), s3_url, bucket]
    cmd += ["object"] if as_object else []
    started = time.perf_counter()
    with log.open("w") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=env)
        assert proc.stdout is not None
        output = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if proc.returncode != 0 or not output.strip():
        tail = "\n".join(log.read_text().splitlines()[-30:])
        raise RuntimeError(f"the {images}-image child failed ({proc.returncode}):\n{tail}")
    report = json.loads(output.strip().splitlines()[-1])
    return {
        "images": images,
        "state": report["state"],
        "done": report["done"],
        "flow_seconds": report["seconds"],
        "process_seconds": round(wall, 2),
        "peak_rss_mb": round(usage.ru_maxrss / MB, 1),
        "vm_hwm_mb": round(report["hwm_kb"] / MB, 1),
        "rss_before_flow_mb": round(report["rss_before_flow_kb"] / MB, 1),
        "rss_after_flow_mb": round(report["rss_after_flow_kb"] / MB, 1),
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:6])
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, nargs=2, default=[500, 5000], metavar=("N1", "N2"))
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument(
        "--per-prompt",
        type=int,
        default=10,
        help="variants per prompt (1: as many prompts as images, e.g. 5,000 prompts)",
    )
    parser.add_argument(
        "--as-object",
        action="store_true",
        help="pass the loaded Campaign to the flow, as haoee run does (default: its path)",
    )
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--services", choices=("process", "thread"), default="process")
    args = parser.parse_args()
    load_at_start = round(os.getloadavg()[0], 2)
    quiet_logs()

    sim = SimSettings(latency_ms=args.latency_ms, sigma=0.0)
    runs = []
    with (
        services(sim, args.services) as svc,
        service_process("serve-prefect", []) as (prefect_info, _),
        tempfile.TemporaryDirectory() as tmp,
    ):
        point_client_at(svc)
        state = Path(prefect_info["state"])
        env = {
            **os.environ,
            "PREFECT_API_URL": prefect_info["url"],
            "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(state / "results"),
            "HAOEE_LOCK_DIR": str(state / "locks"),
            "PYTHONUNBUFFERED": "1",
        }
        for images in args.images:
            runs.append(
                measure(
                    images,
                    svc.s3_url,
                    Path(tmp),
                    env,
                    args.concurrency,
                    args.per_prompt,
                    args.as_object,
                )
            )
            wait_idle(prefect_info.get("server_pid"))  # the server done with this run

    small, large = runs[0], runs[-1]
    ratio = large["peak_rss_mb"] / small["peak_rss_mb"]
    growth_small = small["peak_rss_mb"] - small["rss_before_flow_mb"]
    growth_large = large["peak_rss_mb"] - large["rss_before_flow_mb"]
    out: dict[str, Any] = {
        "benchmark": "memory_scaling",
        "concurrency": args.concurrency,
        "per_prompt": args.per_prompt,
        "campaign_given_as": "object" if args.as_object else "path",
        "latency_ms": args.latency_ms,
        "services": args.services,
        "prefect_server": "external" if os.environ.get("PREFECT_API_URL") else "temporary",
        "runs": runs,
        "peak_ratio": round(ratio, 3),
        "growth_mb": [round(growth_small, 1), round(growth_large, 1)],
        "growth_kb_per_extra_image": round(
            (growth_large - growth_small) * MB / max(large["images"] - small["images"], 1), 2
        ),
        "goal_met": {
            f"rss({large['images']})<=1.3x rss({small['images']})": ratio <= 1.3,
        },
        "machine": machine(load_at_start),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
