"""run_campaign end to end: simulator over HTTP, moto's S3 server, a Prefect server."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from prefect_haoee.flows import CampaignResult, run_campaign

pytestmark = pytest.mark.integration

DAY = date(2026, 11, 27)


def write_campaign(tmp_path: Path, bucket: str, name: str = "e2e-test", extra: str = "") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        f"""
name: {name}
model: high_aes_general_v20_L
variants: 3
prompts:
  - id: shoe
    prompt: "a red running shoe on wet asphalt"
    params: {{width: 384, height: 256}}
  - id: bag
    model: high_aes_general_v20
    prompt: "a blue bag on a beach"
output:
  bucket: {bucket}
  prefix: campaigns/{{name}}/{{date}}
budget:
  max_images: 10
concurrency: 3
qps: 50
{extra}
"""
    )
    return path


def run(path: Path, bucket: Any) -> tuple[Any, CampaignResult]:
    state = asyncio.run(run_campaign(str(path), run_date=DAY, bucket=bucket, return_state=True))
    return state, state.result(raise_on_failure=False)


def test_campaign_produces_images_manifest_and_a_free_rerun(
    prefect_server: str, sim: Any, s3_bucket: Any, tmp_path: Path
) -> None:
    path = write_campaign(tmp_path, s3_bucket.bucket_name)
    state, result = run(path, s3_bucket)
    assert state.is_completed(), state.message
    assert (result.total, result.done, result.failed, result.paid_calls) == (6, 6, 0, 6)
    assert sim.stats()["billable_generations"] == 6
    s3 = s3_bucket.credentials.get_s3_client()
    prefix = f"campaigns/e2e-test/{DAY.isoformat()}"
    assert result.prefix == prefix
    for record in result.records:
        body = s3.get_object(Bucket=s3_bucket.bucket_name, Key=record.key)["Body"].read()
        with Image.open(io.BytesIO(body)) as img:
            img.load()
            assert img.size == (record.width, record.height)
    sizes = {(r.req_key, r.width, r.height) for r in result.records}
    assert ("high_aes_general_v20_L", 384, 256) in sizes
    manifest = json.loads(
        s3.get_object(Bucket=s3_bucket.bucket_name, Key=f"{prefix}/manifest.json")["Body"].read()
    )
    assert manifest["total"] == 6 and manifest["done"] == 6
    assert {(i["prompt_id"], i["variant"]) for i in manifest["items"]} == {
        (p, v) for p in ("shoe", "bag") for v in range(3)
    }
    assert len({i["seed"] for i in manifest["items"]}) == 6  # distinct deterministic seeds

    state2, rerun = run(path, s3_bucket)
    assert state2.is_completed()
    assert rerun.paid_calls == 0 and rerun.stored_before == 6 and rerun.done == 6
    assert sim.stats()["billable_generations"] == 6  # the rerun paid nothing


def test_some_items_fail_the_others_are_kept(
    prefect_server: str, sim: Any, s3_bucket: Any, tmp_path: Path
) -> None:
    path = tmp_path / "partial.yaml"
    path.write_text(
        f"""
name: partial
model: high_aes_general_v20_L
prompts:
  - id: fine
    prompt: "a quiet lake"
  - id: refused
    prompt: "a logo with a copyright-word"
output: {{bucket: {s3_bucket.bucket_name}}}
"""
    )
    state, result = run(path, s3_bucket)
    assert state.is_failed()
    assert "1 of 2 items failed" in (state.message or "")
    assert result.done == 1 and result.failed == 1
    assert result.failures[0].prompt_id == "refused" and "50413" in result.failures[0].error
    assert sim.stats()["calls_by_action"]["CVProcess"] == 2  # the refusal was not retried


def test_artifacts_and_events_reach_the_server(
    prefect_server: str, sim: Any, s3_bucket: Any, tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    path = write_campaign(tmp_path, s3_bucket.bucket_name, name="observed")
    state, result = run(path, s3_bucket)
    assert state.is_completed()

    async def read_back() -> tuple[list[Any], Any]:
        async with get_client() as client:
            artifacts = await client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    key=ArtifactFilterKey(
                        any_=["observed-images", "observed-gallery", "observed-progress"]
                    )
                )
            )
            flow_run = await client.read_flow_run(state.state_details.flow_run_id)
            return artifacts, flow_run

    artifacts, flow_run = asyncio.run(read_back())
    kinds = {a.key: a for a in artifacts}
    assert set(kinds) == {"observed-images", "observed-gallery", "observed-progress"}
    assert kinds["observed-progress"].data == 100.0
    table = kinds["observed-images"].data
    rows = json.loads(table) if isinstance(table, str) else table
    assert len(rows) == 6 and {r["status"] for r in rows} == {"done"}
    gallery = kinds["observed-gallery"].data
    assert gallery.count("![") == 6 and "Signature=" in gallery  # presigned, browser-openable
    assert flow_run.name == f"observed-{DAY.isoformat()}"
    assert {"haoee", "observed"} <= set(flow_run.tags)

    names = asyncio.run(wait_for_events("haoee.campaign.observed", expected=7))
    assert names.count("haoee.image.generated") == 6
    assert names.count("haoee.campaign.completed") == 1


async def wait_for_events(campaign_resource: str, expected: int) -> list[str]:
    """Events are shipped in the background: read them back, bounded by a deadline."""
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventRelatedFilter

    event_filter = EventFilter(
        event=EventNameFilter(prefix=["haoee."]),
        related=EventRelatedFilter(id=[campaign_resource]),
    )
    names: list[str] = []
    async with get_client() as client:
        for _ in range(150):
            page = await client.read_events(filter=event_filter, limit=50)
            names = [e.event for e in page.events]
            if len(names) >= expected:
                break
            await asyncio.sleep(0.2)
    return names

    names = asyncio.run(wait_for_events("haoee.campaign.observed", expected=7))
    assert names.count("haoee.image.generated") == 6
    assert names.count("haoee.campaign.completed") == 1


def test_mixed_campaign_one_item_of_each_kind(
    prefect_server: str, sim: Any, s3_bucket: Any, tmp_path: Path
) -> None:
    path = tmp_path / "mixed.yaml"
    path.write_text(
        f"""
name: mixed-kinds
model: high_aes_general_v20_L
prompts:
  - id: still
    prompt: "a red kite"
  - id: poster
    model: nano-banana
    prompt: "a kite poster"
  - id: teaser
    kind: video
    model: sora-2
    prompt: "a kite over the bay at dawn"
  - id: jingle
    kind: music
    model: chirp-v4
    prompt: "a happy kite jingle"
output: {{bucket: {s3_bucket.bucket_name}}}
"""
    )
    state, result = run(path, s3_bucket)
    assert state.is_completed(), state.message
    kinds = {r.kind for r in result.records}
    assert kinds == {"image", "video", "music"} and result.done == 4
    s3 = s3_bucket.credentials.get_s3_client()
    manifest = json.loads(
        s3.get_object(Bucket=s3_bucket.bucket_name, Key=f"{result.prefix}/manifest.json")[
            "Body"
        ].read()
    )
    by_id = {i["prompt_id"]: i for i in manifest["items"]}
    assert by_id["teaser"]["kind"] == "video" and by_id["teaser"]["duration_s"] > 0
    assert by_id["jingle"]["kind"] == "music" and by_id["jingle"]["key"].endswith(
        (".mp3", ".wav", ".m4a")
    )
    assert sim.stats()["billable_generations"] == 4

    state2, rerun = run(path, s3_bucket)
    assert state2.is_completed() and rerun.paid_calls == 0 and rerun.done == 4
    assert {r.kind for r in rerun.records} == {"image", "video", "music"}
    assert sim.stats()["billable_generations"] == 4
