"""produce_item, the one item runner: any kind, called from inside any task run.

A flow that batches items calls the plain coroutine from a task of its own (no ``bucket``
parameter, several items per run): the paid steps must still commit, claim and resume.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from prefect_haoee.client import AnyRequest, resolve_mode
from prefect_haoee.client.families import SoraVideoRequest, SunoInspirationRequest
from prefect_haoee.client.kinds import FAMILY_STEPS, VISUAL_STEPS
from prefect_haoee.tasks.item_runner import produce_item
from prefect_haoee.tasks.records import ENTRY_FIELDS, ImageRecord
from tests.tasks.produce_support import async_request, sync_request

pytestmark = pytest.mark.integration


@task(name="batch-of-items", cache_policy=NO_CACHE)
async def batch(items: list[AnyRequest], where: Any, skip: bool) -> list[ImageRecord]:
    return [
        await produce_item(r, where, "t/batch", skip_if_stored=skip, object_stem=None)
        for r in items
    ]


@flow(name="batched-items")
async def batched(items: list[AnyRequest], where: Any, skip: bool = True) -> list[ImageRecord]:
    return await batch(items, where, skip)


def test_a_batch_task_produces_every_kind_and_a_rerun_pays_nothing(
    prefect_server: str, sim: Any, s3_bucket: Any
) -> None:
    items: list[AnyRequest] = [
        sync_request(31),
        async_request(31),
        SoraVideoRequest(prompt="a batched kite"),
    ]
    first = asyncio.run(batched(items, s3_bucket))
    assert [r.kind for r in first] == ["image", "image", "video"]
    assert [r.mode for r in first] == ["sync", "async", "async"]
    assert all(r.cost_units == 1 and r.paid_by for r in first)
    assert sim.stats()["billable_generations"] == 3
    s3 = s3_bucket.credentials.get_s3_client()
    for record in first:
        head = s3.head_object(Bucket=s3_bucket.bucket_name, Key=record.key)
        assert head["Metadata"]["sha256"] == record.sha256

    # Not looking in S3 first: every paid step is read back from its commit, nothing paid.
    again = asyncio.run(batched(items, s3_bucket, skip=False))
    assert all(r.cost_units == 0 and r.source == "resumed" for r in again)
    assert [r.sha256 for r in again] == [r.sha256 for r in first]
    assert sim.stats()["billable_generations"] == 3 and sim.stats()["duplicates"] == 0

    stored = asyncio.run(batched(items, s3_bucket))
    assert all(r.source == "s3" and r.cost_units == 0 for r in stored)
    assert stored[2].duration_s == pytest.approx(first[2].duration_s)


def test_requests_declare_family_kind_model_mode_and_steps() -> None:
    music = SunoInspirationRequest(gpt_description_prompt="a jingle")
    assert (music.family, music.kind, resolve_mode(music, "auto"), music.step_names) == (
        "suno",
        "music",
        "async",
        FAMILY_STEPS,
    )
    assert music.model_id and not music.can_reseed
    image = sync_request(1)
    assert (image.family, image.kind, image.model_id, resolve_mode(image, "auto")) == (
        "visual",
        "image",
        "high_aes_general_v20_L",
        "sync",
    )
    assert image.step_names == VISUAL_STEPS and image.can_reseed
    # The names earlier versions committed under: never renamed.
    assert (VISUAL_STEPS.generate, VISUAL_STEPS.submit, VISUAL_STEPS.wait_of("t")) == (
        "generate",
        "submit",
        "wait-t",
    )
    assert (FAMILY_STEPS.generate, FAMILY_STEPS.submit, FAMILY_STEPS.wait_of("j")) == (
        "images-generate",
        "job-submit",
        "job-wait-j",
    )


def test_a_manifest_entry_gives_back_the_record_of_a_stored_item() -> None:
    record = ImageRecord(
        request_hash="h" * 64,
        generated_hash="g" * 64,
        kind="video",
        req_key="sora-2",
        mode="async",
        seed=None,
        bucket="b",
        key="p/x.mp4",
        extra_keys=["p/x-1.mp4"],
        sha256="s" * 64,
        format="mp4",
        width=0,
        height=0,
        bytes=123,
        duration_s=4.0,
        cost_units=1,
        paid_by="run-1",
    )
    entry = {
        **record.entry_fields(),
        "request_hash": record.request_hash,
        "req_key": "sora-2",
        "kind": "video",
        "mode": "async",
        "status": "done",
    }
    assert set(ENTRY_FIELDS) <= set(entry)
    back = ImageRecord.from_manifest(entry, "b")
    assert back is not None
    assert (back.key, back.extra_keys, back.duration_s, back.kind) == (
        "p/x.mp4",
        ["p/x-1.mp4"],
        4.0,
        "video",
    )
    assert (back.source, back.cost_units, back.paid_by) == ("s3", 0, "run-1")
    assert ImageRecord.from_manifest({**entry, "status": "failed"}, "b") is None
