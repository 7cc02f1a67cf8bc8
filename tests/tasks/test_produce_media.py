"""produce_media against the simulator, moto S3 and Prefect: video, music, family images."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prefect import flow

from prefect_haoee.client.families import (
    ImageGenerationRequest,
    KlingText2VideoRequest,
    SoraVideoRequest,
    SunoInspirationRequest,
)
from prefect_haoee.tasks.media import produce_media
from prefect_haoee.tasks.records import ImageRecord

pytestmark = pytest.mark.integration

REQUESTS = [
    SoraVideoRequest(prompt="a kite over the sea"),
    KlingText2VideoRequest(prompt="waves at night"),
    SunoInspirationRequest(gpt_description_prompt="a happy jingle"),
    ImageGenerationRequest(model="nano-banana", prompt="a poster"),
]


@flow(name="media-all")
async def media_all(bucket: Any) -> list[ImageRecord]:
    return list(await asyncio.gather(*[produce_media(r, bucket, "t/media") for r in REQUESTS]))


def test_every_kind_lands_in_s3_streamed_and_a_rerun_pays_nothing(
    prefect_server: str, sim: Any, s3_bucket: Any
) -> None:
    first = asyncio.run(media_all(s3_bucket))
    assert [r.kind for r in first] == ["video", "video", "music", "image"]
    assert all(r.cost_units == 1 for r in first)
    s3 = s3_bucket.credentials.get_s3_client()
    for record in first:
        head = s3.head_object(Bucket=s3_bucket.bucket_name, Key=record.key)
        assert head["Metadata"]["sha256"] == record.sha256
        assert head["ContentLength"] == record.bytes
    video, _, music, image = first
    assert video.key.endswith(".mp4") and head_type(s3_bucket, video.key) == "video/mp4"
    assert video.duration_s and video.duration_s > 0
    assert music.key.rsplit(".", 1)[-1] in ("mp3", "wav", "m4a")
    assert image.width > 0 and image.format == "PNG"
    assert sim.stats()["billable_generations"] == 4

    second = asyncio.run(media_all(s3_bucket))
    assert all(r.source == "s3" and r.cost_units == 0 for r in second)
    assert [r.sha256 for r in second] == [r.sha256 for r in first]
    assert second[0].duration_s == pytest.approx(video.duration_s)
    assert sim.stats()["billable_generations"] == 4


def head_type(bucket: Any, key: str) -> str:
    client = bucket.credentials.get_s3_client()
    content_type: str = client.head_object(Bucket=bucket.bucket_name, Key=key)["ContentType"]
    return content_type


def test_stored_answers_with_dead_urls_are_refreshed(
    prefect_server: str, sim: Any, s3_bucket: Any
) -> None:
    """A committed answer whose file URLs died (and whose file never reached S3): an async
    job is polled again (free while the gateway knows it); a gone job is resubmitted once."""
    requests = [
        SoraVideoRequest(prompt="a paper boat"),
        SunoInspirationRequest(gpt_description_prompt="a calm tune"),
    ]

    @flow(name="media-two")
    async def two() -> list[ImageRecord]:
        return list(
            await asyncio.gather(*[produce_media(r, s3_bucket, "t/dead") for r in requests])
        )

    first = asyncio.run(two())
    s3 = s3_bucket.credentials.get_s3_client()
    for record in first:
        s3.delete_object(Bucket=s3_bucket.bucket_name, Key=record.key)
    sim.advance_clock(25 * 3600)  # result URLs (24 h) die; the jobs are forgotten too
    again = asyncio.run(two())
    assert [r.sha256 for r in again] == [r.sha256 for r in first]
    stats = sim.stats()
    # each item: its committed job was gone, so it was submitted once more - and only once
    assert stats["billable_generations"] == 4 and all(r.cost_units == 1 for r in again)
