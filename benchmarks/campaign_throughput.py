"""Campaign throughput: a raw httpx loop, the ``run_campaign`` flow, and its free rerun.

N images of the sync model ``high_aes_general_v20_L`` against the gateway simulator
(latency median 200 ms, lognormal sigma 0.1) capped at C calls in flight and Q calls/s
(the simulator enforces the same caps), with moto's S3 server and a Prefect server, all
on 127.0.0.1. Three runs, each on its own bucket (the rerun on the flow's):

(a) raw: an ``httpx.AsyncClient`` loop doing the same work per image as the flow: one
    CVProcess call (a pool of C connections, the same token bucket at Q/s, 2*C items in
    flight like the flow), download the result URL, verify it (sha256, Pillow decode), put
    it to S3 with boto3 (in a worker thread) - the reference a user could write by hand;
(b) flow: ``run_campaign`` on a generated campaign file of N items (prompts x variants,
    ``concurrency: C``, ``qps: Q``, ``budget.max_images: N``);
(c) rerun: the same flow again, every image already in S3 (must bill nothing).

A 4-image warm-up of (a) and (b) runs first (connections, lazy imports), outside the timings.

Overhead per image (ms, median and p95) is measured per item of (b) as

    item span - gateway call time - download time - S3 time

where the *span* is the wall time of the item's Prefect task run as the flow awaits it
(orchestration, result handling, the lock and commit of the paid step, event loop
delays), the *gateway call time* is the time spent in the client's call to the gateway
(its token-bucket and connection-pool waits included: those are the caps, not overhead),
*download* is the download plus verification (``timings.download_s``) and *S3* the
upload (``timings.upload_s``). ``wall_overhead_ms_per_image`` is (wall time of b - wall
time of a) / N. ``cpu_s`` gives the CPU seconds each process used during (a) and (b),
``other_processes`` what the rest of the machine took meanwhile (noise in the figures;
it includes a Prefect server given by ``PREFECT_API_URL`` if that runs on this machine).
``own_cpu_ms_per_image`` counts the project's own processes only (this one, which runs
the flow, and the Prefect server), not the simulator and the local S3 server that stand
in for machines a user does not run; ``s3_requests`` counts this process's S3 requests per
image, by operation (the image's PUT, the ledger's entries, listings).
Before (c), the benchmark waits for (b)'s queued logs and events to be shipped
(``drain_s``) and for the Prefect server to finish writing them (``server_settle_s``).

    .venv/bin/python benchmarks/campaign_throughput.py [--images 1000] [--concurrency 10]
        [--qps 50] [--latency-ms 200] [--sigma 0.1] [--services process|thread]
        [--trace items.json]   # per-item timings of (b)
        [--profile DIR]        # pyinstrument reports of (b) and (c) (pip install pyinstrument)

Set ``PREFECT_API_URL`` to a running Prefect server to skip the 10-20 s server startup.
Prints one JSON line on stdout (Prefect's own log lines go to stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import hashlib
import io
import json
import os
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from _common import (
    CpuMeter,
    Services,
    SimSettings,
    campaign_yaml,
    drain_prefect,
    isolated_prefect,
    machine,
    new_bucket,
    percentile,
    point_client_at,
    prefect_server_pid,
    quiet_logs,
    services,
    wait_idle,
)
from PIL import Image

DAY = date(2026, 1, 15)
PROCESS_PARAMS = {"Action": "CVProcess", "Version": "2022-08-31"}
DEFINITION = (
    "per item of (b): wall time of its Prefect task run as the flow awaits it, minus the "
    "time in the gateway call (rate-limit and pool waits included), minus download+verify, "
    "minus the S3 upload"
)

# Per-item accumulators of the flow run (set around each item's task run).
_ITEM: contextvars.ContextVar[dict[str, float] | None] = contextvars.ContextVar(
    "bench_item", default=None
)


def summary(values_s: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values_s]
    return {"p50": round(percentile(ms, 50), 2), "p95": round(percentile(ms, 95), 2)}


# --------------------------------------------------------------------------- (a) raw loop


async def raw_loop(
    bodies: list[dict[str, Any]], svc: Services, bucket: Any, prefix: str, c: int, q: float
) -> dict[str, Any]:
    """The hand-written reference: wall seconds and the wall time of each item."""
    from prefect_haoee.client.ratelimit import RateLimiter

    s3 = bucket.credentials.get_s3_client()
    limiter = RateLimiter(q)
    gate = asyncio.Semaphore(2 * c)
    limits = httpx.Limits(max_connections=c, max_keepalive_connections=c)
    headers = {"Authorization": f"Bearer {svc.api_key}"}
    spans: list[float] = []

    async with (
        httpx.AsyncClient(base_url=svc.sim_url, headers=headers, limits=limits, timeout=60) as api,
        httpx.AsyncClient(timeout=60) as files,
    ):

        async def one(index: int, body: dict[str, Any]) -> None:
            async with gate:
                t0 = time.perf_counter()
                while True:
                    await limiter.aacquire()
                    response = await api.post("/volcv/v1", params=PROCESS_PARAMS, json=body)
                    if response.status_code == 429:  # honour Retry-After, as the client does
                        await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
                        continue
                    answer = response.json()
                    if response.status_code != 200 or answer.get("code") != 10000:
                        raise RuntimeError(f"gateway answered {response.text[:200]}")
                    break
                got = await files.get(answer["data"]["image_urls"][0])
                got.raise_for_status()
                data = got.content
                digest = hashlib.sha256(data).hexdigest()
                with Image.open(io.BytesIO(data)) as img:
                    img.load()
                    fmt = (img.format or "png").lower()
                await asyncio.to_thread(
                    s3.put_object,
                    Bucket=bucket.bucket_name,
                    Key=f"{prefix}/{index:06d}.{fmt}",
                    Body=data,
                    ContentType=f"image/{fmt}",
                    Metadata={"sha256": digest, "seed": str(body.get("seed"))},
                )
                spans.append(time.perf_counter() - t0)

        started = time.perf_counter()
        await asyncio.gather(*(one(i, b) for i, b in enumerate(bodies)))
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "spans": spans}


def raw_bodies(path: Path, images: int) -> list[dict[str, Any]]:
    """The request bodies the flow will send (same prompts, seeds and sizes)."""
    from prefect_haoee.campaigns import load_campaign, make_plan

    plan = make_plan(load_campaign(path), DAY)
    bodies = [item.request.to_body() for item in plan.items]
    assert len(bodies) == images
    return bodies


# --------------------------------------------------------------------------- (b)/(c) flow


@dataclass
class ItemTimes:
    """Per item of a flow run (by request hash): wall time of its task run as the flow
    awaits it, and the time spent in its gateway calls."""

    rows: dict[str, dict[str, float]] = field(default_factory=dict)


def instrument() -> ItemTimes:
    """Time each item's task run and its gateway calls (in this process only).

    Wraps ``prefect_haoee.flows.batch.produce_one`` (one item inside its batch) and
    ``AsyncHaoeeClient._arun`` (one gateway call flow with its retries and waits).
    """
    from prefect_haoee.client.async_client import AsyncHaoeeClient
    from prefect_haoee.flows import batch as campaign_module

    times = ItemTimes()
    run_item = campaign_module.produce_one
    send = AsyncHaoeeClient._arun

    async def timed_run(item: Any, bucket: Any, *args: Any) -> Any:
        acc: dict[str, float] = {"send": 0.0}
        token = _ITEM.set(acc)
        started = time.perf_counter()
        try:
            return await run_item(item, bucket, *args)
        finally:
            ended = time.perf_counter()
            times.rows[item.request_hash] = {"start": started, "span": ended - started, **acc}
            _ITEM.reset(token)

    async def timed_send(self: Any, call: Any) -> Any:
        started = time.perf_counter()
        try:
            return await send(self, call)
        finally:
            acc = _ITEM.get()
            if acc is not None:
                acc["send"] += time.perf_counter() - started

    campaign_module.produce_one = timed_run  # type: ignore[assignment]
    AsyncHaoeeClient._arun = timed_send  # type: ignore[method-assign]
    return times


def run_flow(path: Path, bucket: Any, profile: Path | None = None) -> tuple[float, Any, Any]:
    """Run the flow once; with ``profile``, write pyinstrument's report of the run there."""
    from prefect_haoee.flows import run_campaign

    flow: Callable[..., Coroutine[Any, Any, Any]] = run_campaign
    profiler = None
    if profile is not None:
        from pyinstrument import Profiler  # optional: pip install pyinstrument

        profiler = Profiler(interval=0.001, async_mode="disabled")
        profiler.start()
    started = time.perf_counter()
    state = asyncio.run(flow(str(path), run_date=DAY, bucket=bucket, return_state=True))
    seconds = time.perf_counter() - started
    if profiler is not None and profile is not None:
        profiler.stop()
        profile.parent.mkdir(parents=True, exist_ok=True)
        profile.write_text(profiler.output_text(unicode=True, show_all=False))
        profile.with_suffix(".html").write_text(profiler.output_html())
        if profiler.last_session is not None:
            profiler.last_session.save(str(profile.with_suffix(".pyisession")))
    return seconds, state, state.result(raise_on_failure=False)


def flow_items(result: Any, times: ItemTimes) -> list[dict[str, float]]:
    """One row per timed item: span, gateway, download, S3 and the overhead left over."""
    rows = []
    for record in result.records:
        row = times.rows.get(record.request_hash)
        if row is None:
            continue
        t = record.timings
        overhead = row["span"] - row["send"] - t.download_s - t.upload_s
        rows.append({**row, **t.model_dump(), "overhead": overhead})
    return rows


def cpu_ms_per_image(cpu: dict[str, float | None], n: int) -> dict[str, float]:
    """CPU milliseconds per image of each process, and their total (noise excluded)."""
    mine = {k: float(v or 0.0) for k, v in cpu.items() if k != "other_processes"}
    out = {k: round(1000 * v / n, 2) for k, v in mine.items()}
    out["total"] = round(1000 * sum(mine.values()) / n, 2)
    return out


OWN = ("benchmark", "server")
"""The project's own processes: the flow's (this one) and the Prefect server. The
simulator and the local S3 server stand in for machines a user does not run."""


def own_ms(per_image: dict[str, float]) -> float:
    return round(sum(per_image.get(k, 0.0) for k in OWN), 2)


class S3Requests:
    """S3 requests this process sends inside the block, by operation (a botocore hook on
    every client: the raw loop's, prefect-aws's and the ledger's)."""

    def __enter__(self) -> S3Requests:
        from botocore.client import BaseClient

        self.counts: dict[str, int] = {}
        self._original = original = BaseClient._make_api_call
        counts = self.counts

        def counted(client: Any, operation: str, params: Any) -> Any:
            counts[operation] = counts.get(operation, 0) + 1
            return original(client, operation, params)

        BaseClient._make_api_call = counted  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        from botocore.client import BaseClient

        BaseClient._make_api_call = self._original  # type: ignore[method-assign]

    def per_image(self, n: int) -> dict[str, Any]:
        return {
            "per_image": round(sum(self.counts.values()) / n, 2),
            "by_operation": dict(sorted(self.counts.items())),
        }


def billable(svc: Services) -> int:
    return int(svc.sim_stats()["billable_generations"])


def code_count(svc: Services, *codes: str) -> int:
    by_code = svc.sim_stats().get("calls_by_code", {})
    return sum(int(by_code.get(code, 0)) for code in codes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--qps", type=int, default=50)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--sigma", type=float, default=0.1)
    parser.add_argument("--services", choices=("process", "thread"), default="process")
    parser.add_argument(
        "--trace", type=Path, default=None, help="write per-item timings of (b) as JSON here"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="write pyinstrument reports of (b) and (c) into this folder (pip install it)",
    )
    args = parser.parse_args()
    n, c, q = args.images, args.concurrency, args.qps
    load_at_start = round(os.getloadavg()[0], 2)
    quiet_logs()

    sim = SimSettings(args.latency_ms, args.sigma, q, c)
    with (
        services(sim, args.services) as svc,
        isolated_prefect() as prefect_info,
        tempfile.TemporaryDirectory() as tmp,
    ):
        point_client_at(svc)
        quiet_logs()
        times = instrument()
        folder = Path(tmp)
        pids = {"server": prefect_server_pid(), "simulator": svc.sim_pid, "s3": svc.s3_pid}

        # warm-up: connections, lazy imports, first flow run (not timed)
        warm_bucket = new_bucket(svc.s3_url)
        warm = folder / "warm.yaml"
        warm.write_text(
            campaign_yaml("bench-warmup", warm_bucket.bucket_name, 4, concurrency=c, qps=q)
        )
        asyncio.run(raw_loop(raw_bodies(warm, 4), svc, warm_bucket, "raw-warm", c, q))
        run_flow(warm, warm_bucket)
        drain_prefect()
        wait_idle(pids["server"])
        times.rows.clear()

        # (a) raw loop
        raw_bucket = new_bucket(svc.s3_url)
        path = folder / "campaign.yaml"
        flow_bucket = new_bucket(svc.s3_url)
        path.write_text(
            campaign_yaml(f"bench-{n}", flow_bucket.bucket_name, n, concurrency=c, qps=q)
        )
        bodies = raw_bodies(path, n)
        limited_before = code_count(svc, "50429", "50430")
        with CpuMeter(pids) as raw_cpu, S3Requests() as raw_s3:
            raw = asyncio.run(raw_loop(bodies, svc, raw_bucket, "raw", c, q))
        raw_limited = code_count(svc, "50429", "50430") - limited_before

        # (b) the flow
        billed_before = billable(svc)
        with CpuMeter(pids) as flow_cpu, S3Requests() as flow_s3:
            flow_seconds, flow_state, flow_result = run_flow(
                path, flow_bucket, args.profile / "flow.txt" if args.profile else None
            )
        flow_billed = billable(svc) - billed_before
        flow_limited = code_count(svc, "50429", "50430") - limited_before - raw_limited
        items = flow_items(flow_result, times)
        if args.trace is not None:
            args.trace.write_text(json.dumps(items))

        # what (b) left in flight: its log and event queues, and the server writing them
        drain_s = drain_prefect()
        settle_s = wait_idle(pids["server"])

        # (c) the rerun: everything stored
        billed_before = billable(svc)
        rerun_seconds, rerun_state, rerun_result = run_flow(
            path, flow_bucket, args.profile / "rerun.txt" if args.profile else None
        )
        rerun_billed = billable(svc) - billed_before

    overheads = [row["overhead"] for row in items]
    raw_rate = n / raw["seconds"]
    flow_rate = n / flow_seconds
    rerun_rate = n / rerun_seconds
    over = summary(overheads)
    raw_ms = cpu_ms_per_image(raw_cpu.seconds, n)
    flow_ms = cpu_ms_per_image(flow_cpu.seconds, n)
    out: dict[str, Any] = {
        "benchmark": "campaign_throughput",
        "images": n,
        "concurrency": c,
        "qps": q,
        "latency_ms": args.latency_ms,
        "latency_sigma": args.sigma,
        "services": args.services,
        "prefect_server": prefect_info["server"],
        "raw": {
            "seconds": round(raw["seconds"], 3),
            "images_per_s": round(raw_rate, 2),
            "item_ms_p50": summary(raw["spans"])["p50"],
            "gateway_429": raw_limited,
            "cpu_s": raw_cpu.seconds,
            "cpu_ms_per_image": raw_ms,
            "own_cpu_ms_per_image": own_ms(raw_ms),
            "s3_requests": raw_s3.per_image(n),
        },
        "flow": {
            "seconds": round(flow_seconds, 3),
            "images_per_s": round(flow_rate, 2),
            "state": flow_state.name,
            "done": flow_result.done,
            "paid_calls": flow_result.paid_calls,
            "billable_calls": flow_billed,
            "item_ms_p50": summary([row["span"] for row in items])["p50"],
            "gateway_429": flow_limited,
            "cpu_s": flow_cpu.seconds,
            "cpu_ms_per_image": flow_ms,
            "own_cpu_ms_per_image": own_ms(flow_ms),
            "s3_requests": flow_s3.per_image(n),
            "drain_s": round(drain_s, 2),
            "server_settle_s": round(settle_s, 2),
        },
        "rerun": {
            "seconds": round(rerun_seconds, 3),
            "images_per_s": round(rerun_rate, 2),
            "state": rerun_state.name,
            "done": rerun_result.done,
            "billable_calls": rerun_billed,
        },
        "ratio_flow_to_raw": round(flow_rate / raw_rate, 3),
        "overhead_ms": {"median": over["p50"], "p95": over["p95"], "items": len(overheads)},
        "overhead_definition": DEFINITION,
        "wall_overhead_ms_per_image": round(1000 * (flow_seconds - raw["seconds"]) / n, 2),
        "rerun_speedup": round(rerun_rate / flow_rate, 1),
        "cpu_ratio_flow_to_raw": round(flow_ms["total"] / max(raw_ms["total"], 1e-9), 2),
        "own_cpu_ratio_flow_to_raw": round(own_ms(flow_ms) / max(own_ms(raw_ms), 1e-9), 2),
        "goals_met": {
            "own_cpu_per_image<=1.5x raw": own_ms(flow_ms) <= 1.5 * own_ms(raw_ms),
            "ratio_flow_to_raw>=0.9": flow_rate / raw_rate >= 0.9,
            "overhead_median<=15ms": over["p50"] <= 15.0,
            "rerun>=20x": rerun_rate >= 20 * flow_rate,
            "rerun_billable==0": rerun_billed == 0,
        },
        "machine": machine(load_at_start),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
