"""Committed paid steps: versioned JSON in the ledger, an unreadable answer stops the item,
a step held past the wait stops the item.

Before: records were pickled, a read error was taken for "not there" (so a corrupt or
foreign record was paid again), and a lock not obtained was ignored (after the wait the
step paid without it).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from prefect import flow
from prefect.states import State

from prefect_haoee.client import parse_request
from prefect_haoee.client.requests.base import VisualRequest
from prefect_haoee.tasks import produce_image
from prefect_haoee.tasks.errors import LockNotObtainedError, UnreadableStepError
from prefect_haoee.tasks.ledger_local import LocalLocks
from prefect_haoee.tasks.step_json import STEP_FORMAT, decode_step

pytestmark = pytest.mark.integration


def request(model: str, tag: str) -> VisualRequest:
    return parse_request({"req_key": model, "prompt": f"records {tag}", "seed": 4242})


@flow(name="rel-records", persist_result=True)
async def produce_one(req: VisualRequest, bucket: Any, prefix: str) -> State[Any]:
    task = produce_image.with_options(retries=0)
    return await task(req, bucket, prefix, return_state=True)  # type: ignore[call-overload,no-any-return]


def entry_key(step: str, req: VisualRequest) -> str:
    """The ledger entry of a step in the output bucket (``tasks.ledger_s3``)."""
    return f".haoee-ledger/haoee-{step}-{req.request_hash}.json"


def drop_images(bucket: Any, prefix: str) -> None:
    s3 = bucket.credentials.get_s3_client()
    for obj in s3.list_objects_v2(Bucket=bucket.bucket_name, Prefix=prefix).get("Contents", []):
        s3.delete_object(Bucket=bucket.bucket_name, Key=obj["Key"])


@pytest.mark.parametrize(
    ("model", "step"), [("high_aes_general_v20_L", "generate"), ("high_aes_general_v20", "submit")]
)
def test_committed_steps_are_versioned_json(
    prefect_server: str, sim: Any, s3_bucket: Any, model: str, step: str
) -> None:
    req = request(model, f"json-{uuid.uuid4().hex[:6]}")
    assert asyncio.run(produce_one(req, s3_bucket, "rec/json")).is_completed()
    s3 = s3_bucket.credentials.get_s3_client()
    entry = json.loads(
        s3.get_object(Bucket=s3_bucket.bucket_name, Key=entry_key(step, req))["Body"].read()
    )
    assert entry["format"] == "prefect-haoee/ledger" and entry["state"] == "done"
    document = entry["step"]
    assert document["format"] == STEP_FORMAT and document["version"] == 1
    assert document["type"] == ("GeneratedImages" if step == "generate" else "JobHandle")
    assert sim.stats()["billable_generations"] == 1

    # Another run (the image gone from S3) reads the JSON entry: nothing paid again.
    drop_images(s3_bucket, "rec/json")
    state = asyncio.run(produce_one(req, s3_bucket, "rec/json"))
    assert state.result().cost_units == 0
    assert sim.stats()["billable_generations"] == 1


def test_version_1_documents_stay_readable() -> None:
    """The written format is pinned: a later version must still read these documents."""
    submitted = decode_step(
        {
            "format": "prefect-haoee/step",
            "version": 1,
            "type": "SubmittedGeneration",
            "value": {
                "request_hash": "ab" * 32,
                "req_key": "high_aes_general_v20",
                "task_id": "t-1",
                "seed": 7,
                "submitted_at": "2026-07-04T10:00:00Z",
            },
        }
    )
    assert submitted.job_id == "t-1" and submitted.return_url is True
    images = decode_step(
        {
            "format": "prefect-haoee/step",
            "version": 1,
            "type": "GeneratedImages",
            "value": {"urls": ["https://x/1.png"], "request_id": "r-1"},
        }
    )
    assert images.urls == ["https://x/1.png"]


@pytest.mark.parametrize(
    "document",
    [
        {"format": "prefect-haoee/step", "version": 99, "type": "GeneratedImages", "value": {}},
        {"format": "prefect-haoee/step", "version": 1, "type": "Nope", "value": {}},
        {"format": "prefect-haoee/step", "version": 1, "type": "SubmittedGeneration", "value": {}},
        {"format": "other", "version": 1},
    ],
)
def test_foreign_documents_are_errors(document: dict[str, Any]) -> None:
    with pytest.raises(UnreadableStepError):
        decode_step(document)


def test_lock_not_obtained_fails_the_item_without_paying(
    prefect_server: str, state_dir: Path, sim: Any, s3_bucket: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    req = request("high_aes_general_v20_L", f"lock-{uuid.uuid4().hex[:6]}")
    other_process = LocalLocks(state_dir / "locks")
    key = f"haoee-generate-{req.request_hash}"
    assert other_process.try_lock(key)
    monkeypatch.setenv("HAOEE_LOCK_WAIT_SECONDS", "0.3")
    try:
        with pytest.raises(LockNotObtainedError, match="nothing was paid"):
            asyncio.run(produce_one(req, s3_bucket, "rec/lock"))
    finally:
        other_process.unlock(key)
    assert sim.stats()["billable_generations"] == 0


def test_an_unreadable_answer_in_the_ledger_stops_the_item_and_pays_nothing(
    prefect_server: str, sim: Any, s3_bucket: Any
) -> None:
    """An answer written by a newer prefect-haoee (a step format this one cannot read) is
    never taken for "not there" and paid again."""
    req = request("high_aes_general_v20_L", f"claim-{uuid.uuid4().hex[:6]}")
    assert asyncio.run(produce_one(req, s3_bucket, "rec/claim")).is_completed()
    drop_images(s3_bucket, "rec/claim")
    s3 = s3_bucket.credentials.get_s3_client()
    key = entry_key("generate", req)
    entry = json.loads(s3.get_object(Bucket=s3_bucket.bucket_name, Key=key)["Body"].read())
    assert entry["state"] == "done" and entry["step"]["type"] == "GeneratedImages"
    entry["step"]["version"] = 99  # written by a newer prefect-haoee
    s3.put_object(Bucket=s3_bucket.bucket_name, Key=key, Body=json.dumps(entry).encode())
    with pytest.raises(UnreadableStepError, match="version 99"):
        asyncio.run(produce_one(req, s3_bucket, "rec/claim"))
    assert sim.stats()["billable_generations"] == 1
