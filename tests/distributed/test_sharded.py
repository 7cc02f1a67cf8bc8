"""One campaign sharded across both workers: every item paid once, the campaign's qps and
concurrency held across the two machines, one manifest covering all shards."""

from __future__ import annotations

import time
from datetime import date

import pytest

from tests.distributed.support import Cluster, campaign_yaml, elapsed

pytestmark = pytest.mark.distributed

PROMPTS, VARIANTS, QPS, CONCURRENCY = 10, 2, 5, 3


def test_a_sharded_campaign_pays_once_and_holds_its_limits(fresh: Cluster) -> None:
    text = campaign_yaml("sharded", fresh.bucket, PROMPTS, qps=QPS, concurrency=CONCURRENCY)
    folder = fresh.write_campaigns("sharded", {"sharded": text})
    deployed = fresh.haoee("deploy", folder, "--pool", fresh.pool, "--shards", "2")
    assert "haoee-sharded-qps" in deployed.stdout  # the limits were created
    fresh.set_queue("haoee-campaign/sharded", "coord")

    started = time.monotonic()
    [parent] = fresh.start_runs(["haoee-campaign/sharded"])
    [run] = fresh.wait_final([parent])
    assert run.state_name == "Completed", run.state
    shards = [r for r in fresh.read_runs() if r.name.startswith("sharded-") and "-shard-" in r.name]
    assert len(shards) == 2 and all(s.state_name == "Completed" for s in shards)
    # The two shards ran at the same time, one per worker (each had one free slot).
    first, second = sorted(shards, key=lambda r: r.start_time)
    assert second.start_time < first.end_time, "the shards did not overlap"

    ledger = fresh.ledger()
    print("sharded", ledger.as_dict(), "wall_s", elapsed(started))
    total = PROMPTS * VARIANTS
    assert ledger.distinct == total
    assert ledger.billable == ledger.distinct
    assert ledger.duplicates == 0
    # Held across both workers by the global limits (each process alone would allow
    # QPS and CONCURRENCY by itself, twice as much together).
    assert ledger.peak_qps <= QPS
    assert ledger.peak_concurrency <= CONCURRENCY
    assert fresh.active_slots("haoee-sharded") == 0

    manifest = fresh.manifest(f"campaigns/sharded/{date.today().isoformat()}/manifest.json")
    assert (manifest["total"], manifest["done"], manifest["failed"]) == (total, total, 0)
    assert sum(item["cost_units"] for item in manifest["items"]) == total
    stored = fresh.stored_images()
    assert len(stored) == total and set(stored.values()) == set(ledger.by_hash)
    objects = fresh.s3_client().list_objects_v2(Bucket=fresh.bucket).get("Contents", [])
    assert not [o for o in objects if "/shards/" in o["Key"]], "shard manifests left behind"
