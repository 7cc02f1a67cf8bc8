"""Many machines: with an S3 bucket block as result storage, committed paid steps are
shared, so a run that finds no image (deleted, or another machine) still does not pay."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from tests.tasks.produce_support import async_request, produce_all, records, sync_request

pytestmark = pytest.mark.integration


def test_steps_committed_to_s3_result_storage_are_reused(
    prefect_server: str, sim: Any, s3_bucket: Any
) -> None:
    from prefect_aws.s3 import S3Bucket

    client = s3_bucket.credentials.get_s3_client()
    results_name = f"results-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=results_name)
    storage = S3Bucket(bucket_name=results_name, credentials=s3_bucket.credentials)
    storage.save(results_name, overwrite=True)

    requests = [sync_request(900), async_request(900)]
    shared = produce_all.with_options(result_storage=storage)
    first = records(asyncio.run(shared(requests, s3_bucket, "t/shared")))
    assert sim.stats()["billable_generations"] == 2
    stored_steps = [o["Key"] for o in client.list_objects_v2(Bucket=results_name)["Contents"]]
    assert any(k.startswith("haoee-submit-") for k in stored_steps)
    assert any(k.startswith("haoee-generate-") for k in stored_steps)

    # Another machine: the images are not in S3 (deleted here) and its local storage is
    # empty; only the shared result storage knows the paid steps.
    for record in first:
        client.delete_object(Bucket=s3_bucket.bucket_name, Key=record.key)
    again = records(asyncio.run(shared(requests, s3_bucket, "t/shared", refresh=True)))
    assert [r.sha256 for r in again] == [r.sha256 for r in first]
    assert all(r.cost_units == 0 for r in again)
    assert sim.stats()["billable_generations"] == 2
