"""Two deployments whose campaigns share every request, started at the same time on two
workers ("machines" with their own PREFECT_HOME and lock dir): each request is paid once."""

from __future__ import annotations

import time

import pytest

from tests.distributed.support import Cluster, campaign_yaml, elapsed

pytestmark = pytest.mark.distributed

PROMPTS = 5  # x 2 variants = 10 requests, shared by both campaigns


def test_two_campaigns_sharing_requests_pay_each_once(fresh: Cluster) -> None:
    texts = {
        name: campaign_yaml(name, fresh.bucket, PROMPTS, qps=5) for name in ("twin-a", "twin-b")
    }
    folder = fresh.write_campaigns("two-deployments", texts)
    fresh.haoee("deploy", folder, "--pool", fresh.pool)
    fresh.set_queue("haoee-campaign/twin-a", "qa")  # worker-a
    fresh.set_queue("haoee-campaign/twin-b", "qb")  # worker-b

    started = time.monotonic()
    ids = fresh.start_runs(["haoee-campaign/twin-a", "haoee-campaign/twin-b"], in_seconds=15)
    runs = fresh.wait_final(ids)
    assert [r.state_name for r in runs] == ["Completed", "Completed"], [r.state for r in runs]

    ledger = fresh.ledger()
    print("two-deployments", ledger.as_dict(), "wall_s", elapsed(started))
    if ledger.duplicates:
        print("ledger", fresh.sim.ledger())
    assert ledger.distinct == PROMPTS * 2
    assert ledger.billable == ledger.distinct
    assert ledger.duplicates == 0
    # Both campaigns hold every image (under their own prefixes), from one payment each.
    stored = fresh.stored_images()
    assert len(stored) == 2 * PROMPTS * 2
    assert set(stored.values()) == set(ledger.by_hash)
    # The two runs started together (else this test would prove nothing about locking).
    starts = sorted(r.start_time for r in runs)
    assert (starts[1] - starts[0]).total_seconds() < 1.0, starts
