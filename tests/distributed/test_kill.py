"""SIGKILL of one worker (with its flow runs) in the middle of a sharded campaign.

The surviving worker finishes its shard; the parent run ends Failed, naming the items of
the lost shard; no lock or concurrency slot outlives its timeout; the rerun (with the
worker back) finishes every item and pays again for nothing that was committed: only a
call that was in flight at the kill (billed, its answer never stored) may be paid twice.
"""

from __future__ import annotations

import time
from datetime import date

import pytest

from prefect_haoee.flows.limits import LEASE_SECONDS
from tests.distributed.services import wait_for
from tests.distributed.support import Cluster, campaign_yaml, elapsed

pytestmark = pytest.mark.distributed

PROMPTS, VARIANTS, QPS, CONCURRENCY = 10, 2, 5, 3
REPOSSESSOR_S = 1.0  # the test server's repossessor loop


def test_a_killed_worker_strands_nothing_and_the_rerun_pays_only_what_was_lost(
    fresh: Cluster,
) -> None:
    total = PROMPTS * VARIANTS
    text = campaign_yaml("crash", fresh.bucket, PROMPTS, qps=QPS, concurrency=CONCURRENCY)
    folder = fresh.write_campaigns("kill", {"crash": text})
    fresh.haoee("deploy", folder, "--pool", fresh.pool, "--shards", "2")
    fresh.set_queue("haoee-campaign/crash", "coord")  # the parent stays on worker-a

    [parent] = fresh.start_runs(["haoee-campaign/crash"])
    victim = fresh.workers["worker-b"]

    def shard_of_b_paying() -> list[object] | None:
        mine = fresh.runs_in(victim.tree())
        running = [r for r in mine if r.state_name == "Running"]
        return mine if running and fresh.sim.stats()["billable_generations"] >= 6 else None

    wait_for(shard_of_b_paying, "worker-b's shard paying", 150, interval=0.05)
    fresh.must_live.discard("worker-b")
    killed_at = time.monotonic()
    stranded = fresh.runs_in(victim.kill_tree())  # the machine dies
    assert stranded, "worker-b ran nothing when it was killed"
    committed = fresh.committed_generations()
    billed_at_kill = fresh.ledger()
    fresh.mark_crashed(stranded)
    fresh.restart_worker("worker-b")  # back while the leases of the killed one run out

    [first] = fresh.wait_final([parent])
    assert first.state_name == "Failed", first.state  # the lost shard's items are named
    assert "failed" in (first.state.message or "")
    assert billed_at_kill.billable < total, "the kill came too late to prove anything"

    # Nothing outlives its timeout: the campaign's concurrency slots come back when the
    # killed holders' leases end, and every Redis key (a lock) expires on its own.
    # Measured from the kill; it includes restarting worker-b and the parent's end, so
    # the bound is the lease plus a margin for those, not the lease alone.
    wait_for(
        lambda: fresh.active_slots("haoee-crash") == 0,
        "slots of the killed worker released",
        LEASE_SECONDS + 30,
        interval=0.5,
    )
    released_s = elapsed(killed_at)
    assert released_s <= LEASE_SECONDS + 40 + 5 * REPOSSESSOR_S
    keys = fresh.redis_keys()
    assert all(ttl >= 0 for ttl in keys.values()), f"a Redis key never expires: {keys}"

    fresh.must_live.add("worker-b")
    [second] = fresh.wait_final(fresh.start_runs(["haoee-campaign/crash"]))
    assert second.state_name == "Completed", second.state

    ledger = fresh.ledger()
    print(
        "kill",
        {"at_kill": billed_at_kill.as_dict(), "after_rerun": ledger.as_dict()},
        "committed_at_kill",
        len(committed),
        "slots_released_after_s",
        released_s,
    )
    assert ledger.distinct == total
    # Committed before the kill: paid exactly once, ever.
    assert all(ledger.by_hash[h] == 1 for h in committed), "a committed step was paid again"
    # Paid twice only if in flight on the killed worker (at most its share of the slots).
    assert ledger.duplicates <= CONCURRENCY
    assert ledger.peak_qps <= QPS
    manifest = fresh.manifest(f"campaigns/crash/{date.today().isoformat()}/manifest.json")
    assert (manifest["total"], manifest["done"], manifest["failed"]) == (total, total, 0)
    assert len(fresh.stored_images()) == total
