"""The ledger across machines: the output bucket (default) and Redis.

Two "machines" are two processes with their own ``PREFECT_HOME``, result storage and lock
directory, producing the same requests into one moto bucket at the same time, against a
simulator slow enough that their paid calls overlap. Before a shared guard this paid every
request about twice (40 generations for 20 images); now the simulator's billing
shows billable == distinct requests and no duplicate. Also: answers whose file URLs died,
met on two machines at once, are paid for again once; the fine-grained tasks on
two machines pay once; a SIGKILLed holder's entry expires and the rerun proceeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from prefect_haoee.simulator.config import SimulatorConfig
from prefect_haoee.simulator.server import run_simulator
from prefect_haoee.tasks.errors import LockNotObtainedError
from prefect_haoee.tasks.ledger_s3 import S3Store
from tests.tasks.lock_support import (
    machine_env,
    redis_server,
    release_together,
    start_holder,
    start_machine,
)
from tests.tasks.produce_support import produce_all, records, sync_request

pytestmark = pytest.mark.integration

ITEMS = 20


@pytest.mark.timeout(600)
@pytest.mark.parametrize("backend", ["auto", "redis"])
def test_two_machines_same_campaign_pay_each_request_once(
    prefect_server: str, simulator: Any, s3_bucket: Any, tmp_path: Path, backend: str
) -> None:
    config = SimulatorConfig(
        api_keys=simulator.config.api_keys,
        latency_ms=2000,  # wide enough for both machines' calls to overlap under load
        async_latency_ms=2000,
        latency_sigma=0.3,
        seed=11,
    )
    endpoint = s3_bucket.credentials.aws_client_parameters.endpoint_url
    prefix = f"two/{backend}"
    with run_simulator(config) as sim, contextlib.ExitStack() as stack:
        extra: dict[str, str] = {}
        if backend == "redis":
            (tmp_path / "redis").mkdir()
            extra["HAOEE_LOCK_URL"] = stack.enter_context(redis_server(tmp_path / "redis"))
        machines = [
            start_machine(
                machine_env(tmp_path / name, sim, prefect_server, **extra),
                endpoint,
                s3_bucket.bucket_name,
                prefix,
                ITEMS,
            )
            for name in ("machine-a", "machine-b")
        ]
        outputs = release_together(machines)
        stats = sim.stats()
    for machine, (_, err) in zip(machines, outputs, strict=True):
        assert machine.returncode == 0, err[-4000:]
    reports = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    paid = [r["paid"] for r in reports]
    print(
        json.dumps(
            {
                "backend": backend,
                "billable": stats["billable_generations"],
                "duplicates": stats["duplicates"],
                "paid_by_machine": [sum(p) for p in paid],
                # resumed: read the step another machine committed (they overlapped);
                # s3: found the image already stored (they did not)
                "sources_by_machine": [
                    {s: r["sources"].count(s) for s in set(r["sources"])} for r in reports
                ],
            }
        )
    )
    assert stats["billable_generations"] == ITEMS
    assert stats["duplicates"] == 0
    assert sum(map(sum, paid)) == ITEMS


HOLDER = """
import sys, time
from prefect_aws import AwsClientParameters, AwsCredentials
from prefect_haoee.tasks.ledger_s3 import S3Store
endpoint, bucket, key = sys.argv[1:4]
creds = AwsCredentials(aws_access_key_id="testing", aws_secret_access_key="testing",
    region_name="us-east-1", aws_client_parameters=AwsClientParameters(endpoint_url=endpoint))
store = S3Store(creds.get_s3_client(), bucket, ".haoee-ledger", 2.0, None)
assert store.take(key, "crashed-worker", None).state == "held"
print("held", flush=True)
while store.renew(key, "crashed-worker"):  # a live holder renews its lease until killed
    time.sleep(0.5)
raise SystemExit("lease lost")
"""


@pytest.mark.timeout(300)
def test_entry_of_a_sigkilled_holder_expires_and_the_rerun_proceeds(
    prefect_server: str, sim: Any, s3_bucket: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    req = sync_request(int(uuid.uuid4().int % 100000))
    key = f"haoee-generate-{req.request_hash}"
    endpoint = s3_bucket.credentials.aws_client_parameters.endpoint_url
    holder = start_holder(HOLDER, endpoint, s3_bucket.bucket_name, key)
    monkeypatch.setenv("HAOEE_LOCK_LEASE_SECONDS", "2")
    try:
        # While the holder lives (it renews), a short wait fails the item unpaid...
        monkeypatch.setenv("HAOEE_LOCK_WAIT_SECONDS", "0.5")
        with pytest.raises(LockNotObtainedError, match="crashed-worker"):
            asyncio.run(produce_all([req], s3_bucket, "kill/claim")).pop().result()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    assert sim.stats()["billable_generations"] == 0
    # ...and after the SIGKILL its lease runs out (2 s): the rerun takes it and pays once.
    monkeypatch.setenv("HAOEE_LOCK_WAIT_SECONDS", "30")
    started = time.monotonic()
    done = records(asyncio.run(produce_all([req], s3_bucket, "kill/claim")))
    assert done[0].cost_units == 1 and time.monotonic() - started < 30
    assert sim.stats()["billable_generations"] == 1
    store = S3Store(s3_bucket.credentials.get_s3_client(), s3_bucket.bucket_name,
                    ".haoee-ledger", 60.0, None)  # fmt: skip
    taken = store.take(key, "later", None)
    assert taken.state == "done" and taken.step is not None
    assert taken.step["type"] == "GeneratedImages"


@pytest.mark.timeout(600)
def test_dead_urls_met_on_two_machines_at_once_are_paid_for_again_once(
    prefect_server: str, s3_bucket: Any, tmp_path: Path
) -> None:
    """Every answer in the ledger has file URLs that died (the simulator's clock moved a
    day on) and no image reached S3: both machines meet the same dead URLs at once, and
    each request is paid for again once in all (a regeneration, or a resubmission of an
    async task the gateway forgot), never once per machine."""
    from prefect_aws.s3 import S3Bucket

    config = SimulatorConfig(api_keys=["sk-sim-dead"], latency_ms=800, latency_sigma=0.2, seed=3)
    endpoint = s3_bucket.credentials.aws_client_parameters.endpoint_url
    count = 6
    with run_simulator(config) as sim:
        env = machine_env(tmp_path / "first", sim, prefect_server)
        first = start_machine(env, endpoint, s3_bucket.bucket_name, "dead", count)
        (out, err), = release_together([first])  # fmt: skip
        assert first.returncode == 0, err[-3000:]
        assert sim.stats()["billable_generations"] == count
        bucket = S3Bucket(bucket_name=s3_bucket.bucket_name, credentials=s3_bucket.credentials)
        client = bucket.credentials.get_s3_client()
        for obj in client.list_objects_v2(Bucket=bucket.bucket_name, Prefix="dead/")["Contents"]:
            client.delete_object(Bucket=bucket.bucket_name, Key=obj["Key"])
        sim.advance_clock(2 * 24 * 3600 + 1)  # every URL and task of that run is gone
        machines = [
            start_machine(
                machine_env(tmp_path / name, sim, prefect_server),
                endpoint,
                s3_bucket.bucket_name,
                "dead",
                count,
            )
            for name in ("machine-a", "machine-b")
        ]
        outputs = release_together(machines)
        stats = sim.stats()
    for machine, (_, err) in zip(machines, outputs, strict=True):
        assert machine.returncode == 0, err[-4000:]
    paid = [sum(json.loads(o.strip().splitlines()[-1])["paid"]) for o, _ in outputs]
    print(json.dumps({"billable": stats["billable_generations"], "paid_by_machine": paid}))
    assert stats["billable_generations"] == 2 * count  # once at first, once more in all
    assert sum(paid) == count


FINE_GRAINED = """
import sys
from prefect import flow
from prefect_aws import AwsClientParameters, AwsCredentials
from prefect_aws.s3 import S3Bucket
from prefect_haoee.tasks import generate_image, submit_generation, wait_for_generation
from tests.tasks.produce_support import async_request, sync_request

endpoint, bucket_name = sys.argv[1:3]
creds = AwsCredentials(aws_access_key_id="testing", aws_secret_access_key="testing",
    region_name="us-east-1", aws_client_parameters=AwsClientParameters(endpoint_url=endpoint))
bucket = S3Bucket(bucket_name=bucket_name, credentials=creds)

@flow(name="fine-grained-machine")
def steps() -> int:
    futures = [generate_image.submit(sync_request(4100 + i), bucket=bucket) for i in range(4)]
    futures += [submit_generation.submit(async_request(4100 + i), bucket=bucket)
                for i in range(4)]
    done = [f.result() for f in futures]
    for handle in done[4:]:
        wait_for_generation(handle, timeout=60)
    return len(done)

print("ready", flush=True)
sys.stdin.readline()
print(steps(), flush=True)
print('{"paid": []}')
"""


@pytest.mark.timeout(600)
def test_fine_grained_tasks_on_two_machines_pay_each_request_once(
    prefect_server: str, s3_bucket: Any, tmp_path: Path
) -> None:
    """The README's own-flow tasks, given the output bucket, share its ledger."""
    import subprocess
    import sys

    config = SimulatorConfig(
        api_keys=["sk-sim-fine"], latency_ms=1500, async_latency_ms=1500, latency_sigma=0.2
    )
    endpoint = s3_bucket.credentials.aws_client_parameters.endpoint_url
    with run_simulator(config) as sim:
        machines = [
            subprocess.Popen(
                [sys.executable, "-c", FINE_GRAINED, endpoint, s3_bucket.bucket_name],
                env=machine_env(tmp_path / name, sim, prefect_server),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for name in ("machine-a", "machine-b")
        ]
        outputs = release_together(machines)
        stats = sim.stats()
    for machine, (_, err) in zip(machines, outputs, strict=True):
        assert machine.returncode == 0, err[-4000:]
    assert stats["billable_generations"] == 8 and stats["duplicates"] == 0
