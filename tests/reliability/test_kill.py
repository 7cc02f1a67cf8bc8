"""``haoee run`` SIGKILLed at three seeded points, then rerun: nothing lost, nothing paid twice.

The child is the real CLI (``haoee run FILE --json``) against the same Prefect server,
result storage and lock directory as this process. Kill points are seeded numbers of
billable generations: the test polls the simulator's ledger (bounded, no fixed sleep)
and sends SIGKILL as soon as the count is reached, then starts the next run.

What "never paid twice" can mean here: a paid call the gateway billed whose answer the
killed process never committed (a sync CVProcess is billed before its generation latency,
a submit just before its answer) cannot be recovered by anyone: the API has no
idempotency key. Such a call is paid again by the rerun. The test asserts that this is the
only way anything is paid twice (each repeat was billed in flight at a kill), that every
image is paid for at least once and stored exactly once, and prints how many repeats there
were (sync calls carry the whole generation latency as their window; submits a few ms).
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from prefect_haoee.simulator.config import SimulatorConfig
from prefect_haoee.simulator.server import run_simulator
from tests.reliability.support import (
    ASYNC_MODEL,
    HAOEE,
    REL_KEY,
    SYNC_MODEL,
    campaign_doc,
    list_keys,
    prompt,
    read_json,
    scaled,
    scanned_bucket,
    subprocess_env,
    wait_until,
    write_yaml,
)

pytestmark = pytest.mark.reliability

RUN_DATE = "2026-05-01"
PAIRS = scaled(8, 30)  # one sync and one async prompt per pair, 2 variants each
SYNC_LATENCY_S = 0.15
KILL_SEED = 808
# A duplicate can only come from a paid call in flight when the process died: billed by
# the gateway, its answer not yet committed to result storage. This is how far before a
# kill such a call can have been billed (the sync latency plus slack for a busy machine).
IN_FLIGHT_WINDOW_S = SYNC_LATENCY_S + 1.0


def kill_campaign(bucket: str) -> dict[str, Any]:
    prompts = []
    for i in range(PAIRS):
        prompts.append(prompt(f"s{i}", f"a yellow umbrella {i}", model=SYNC_MODEL))
        prompts.append(prompt(f"a{i}", f"a wooden boat {i}", model=ASYNC_MODEL))
    return campaign_doc("kill", bucket, prompts, variants=2, concurrency=4, qps=15)


def in_flight_at(billed: float, kill: dict[str, Any]) -> bool:
    """Billed shortly before the kill, or by the gateway just after it (the request was
    already on the wire when the process died)."""
    start, end = float(kill["at"]) - IN_FLIGHT_WINDOW_S, float(kill["dead"]) + 0.5
    return start <= billed <= end


def start(path: Path, env: dict[str, str], log_dir: Path, n: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [HAOEE, "run", str(path), "--json", "--date", RUN_DATE],
        env=env,
        stdout=(log_dir / f"run{n}.out").open("wb"),
        stderr=(log_dir / f"run{n}.err").open("wb"),
    )


def output(log_dir: Path, n: int) -> str:
    out = (log_dir / f"run{n}.out").read_text(errors="replace")
    err = (log_dir / f"run{n}.err").read_text(errors="replace")
    return f"--- stdout ---\n{out[-3000:]}\n--- stderr ---\n{err[-5000:]}"


@pytest.mark.timeout(600)
def test_sigkill_three_times_then_rerun_loses_nothing_and_pays_once(
    prefect_server: str,
    state_dir: Path,
    s3_server: str,
    tmp_path: Path,
    exposed: Any,
) -> None:
    bucket = "rel-kill"
    s3 = scanned_bucket(s3_server, bucket, exposed)
    path = write_yaml(tmp_path / "kill.yaml", kill_campaign(bucket))
    total = PAIRS * 2 * 2
    thresholds = sorted(random.Random(KILL_SEED).sample(range(2, total - 2), 3))

    config = SimulatorConfig(
        api_keys=(REL_KEY,),
        latency_ms=SYNC_LATENCY_S * 1000,
        async_latency_ms=1500,
        latency_sigma=0.3,
        seed=KILL_SEED,
    )
    kills: list[dict[str, Any]] = []
    with run_simulator(config) as sim:
        env = subprocess_env(prefect_server, state_dir, sim.base_url, s3_server)
        for n, threshold in enumerate(thresholds):
            proc = start(path, env, tmp_path, n)
            try:

                def reached(
                    proc: subprocess.Popen[bytes] = proc, at: int = threshold, n: int = n
                ) -> bool:
                    assert proc.poll() is None, f"run {n} ended early:\n{output(tmp_path, n)}"
                    return int(sim.stats()["billable_generations"]) >= at

                wait_until(reached, timeout=240, what=f"{threshold} billable generations")
            finally:
                signalled = time.time()
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=30)
            assert proc.returncode == -signal.SIGKILL
            stats = sim.stats()
            kills.append(
                {
                    "at": signalled,
                    "dead": time.time(),
                    "threshold": threshold,
                    "billable": stats["billable_generations"],
                    "stored": len(list_keys(s3, bucket)),
                }
            )
            exposed.add(f"kill:run{n}", output(tmp_path, n))

        final = subprocess.run(
            [HAOEE, "run", str(path), "--json", "--date", RUN_DATE],
            env=env,
            capture_output=True,
            timeout=300,
        )
        stats = sim.stats()
        ledger = sim.ledger()
    exposed.add("kill:final-out", final.stdout)
    exposed.add("kill:final-err", final.stderr)
    assert final.returncode == 0, final.stderr.decode(errors="replace")[-5000:]
    result = json.loads(final.stdout)
    print(f"\nkill: thresholds {thresholds}, kills {kills}")
    print(f"kill: final run {result['done']} done, {result['paid_calls']} paid; stats {stats}")

    # No image lost: every item is in S3 and in a complete manifest.
    assert (result["total"], result["done"], result["failed"]) == (total, total, 0)
    keys = set(list_keys(s3, bucket))
    assert {r["key"] for r in result["records"]} <= keys
    manifest = read_json(s3, bucket, result["manifest_key"])
    assert (manifest["total"], manifest["done"], manifest["failed"]) == (total, total, 0)
    assert len({e["request_hash"] for e in manifest["items"]}) == total
    assert {e["key"] for e in manifest["items"]} == {r["key"] for r in result["records"]}

    # Nothing paid twice, except a paid call in flight at a kill (billed, answer lost).
    by_hash: dict[str, list[dict[str, Any]]] = {}
    for entry in ledger:
        by_hash.setdefault(entry["hash"], []).append(entry)
    assert len(by_hash) == total  # one distinct paid generation per image
    repeats = [entries for entries in by_hash.values() if len(entries) > 1]
    for entries in repeats:
        # Each billing but the last was in flight at a kill (billed, answer lost), and at a
        # different kill each time: a request cannot be lost twice to the same kill.
        earlier = entries[:-1]
        assert len(earlier) <= len(kills), entries
        used: set[int] = set()
        for entry in earlier:
            match = next(
                (
                    i
                    for i, k in enumerate(kills)
                    if i not in used and in_flight_at(entry["time"], k)
                ),
                None,
            )
            assert match is not None, (
                "billed again, the earlier billing not in flight at a kill",
                entries,
                kills,
            )
            used.add(match)
    by_action = Counter(entries[0]["action"] for entries in repeats)
    print(f"kill: {len(repeats)} paid twice (in flight at a kill), by action {dict(by_action)}")
    extra = sum(len(entries) - 1 for entries in repeats)
    assert stats["duplicates"] in (len(repeats), extra)
    assert stats["billable_generations"] == total + extra
