"""The public step tasks composed in a user's own flow (real simulator, S3, Prefect)."""

from __future__ import annotations

from typing import Any

import pytest
from prefect import flow

from prefect_haoee.blocks import HaoeeCredentials
from prefect_haoee.tasks import (
    download_image,
    generate_image,
    submit_generation,
    upload_image_to_s3,
    wait_for_generation,
)
from prefect_haoee.tasks.records import StoredObject
from tests.tasks.produce_support import async_request, sync_request

pytestmark = pytest.mark.integration


@flow(name="my-own-flow")
def my_flow(
    bucket: Any, credentials: HaoeeCredentials | None = None, n: int = 700
) -> list[StoredObject]:
    stored = []
    submitted = submit_generation(async_request(n), credentials=credentials)
    images = wait_for_generation(submitted, timeout=60, credentials=credentials)
    image = download_image(images.sources()[0])
    stored.append(upload_image_to_s3(image, bucket, f"own/{submitted.request_hash}.png"))
    sync_images = generate_image(sync_request(n), credentials=credentials)
    image = download_image(sync_images.sources()[0])
    stored.append(upload_image_to_s3(image, bucket, "own/sync.png", {"prompt-id": "héro"}))
    return stored


def test_user_flow_twice_pays_once(prefect_server: str, sim: Any, s3_bucket: Any) -> None:
    first = my_flow(s3_bucket)
    assert [s.uploaded for s in first] == [True, True]
    assert sim.stats()["billable_generations"] == 2
    second = my_flow(s3_bucket)
    assert [s.uploaded for s in second] == [False, False]  # same checksum: nothing written
    assert sim.stats()["billable_generations"] == 2
    head = s3_bucket.credentials.get_s3_client().head_object(
        Bucket=s3_bucket.bucket_name, Key="own/sync.png"
    )
    assert head["Metadata"]["prompt-id"] == "h%C3%A9ro"  # S3 metadata is ASCII
    assert head["Metadata"]["sha256"] == first[1].sha256


def test_credentials_block_instead_of_env(
    prefect_server: str, sim: Any, s3_bucket: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = sim.config.api_keys[0]
    monkeypatch.delenv("HAOEE_API_KEY")
    credentials = HaoeeCredentials(api_key=key, base_url=sim.base_url)
    stored = my_flow(s3_bucket, credentials, n=701)
    assert len(stored) == 2
    assert key not in repr(credentials)
