"""The gallery artifact: a grid of real thumbnails stored next to the images, with the facts
under each and long S3 keys shortened, against moto's S3 server."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

from PIL import Image

from prefect_haoee.campaigns import Campaign, make_plan
from prefect_haoee.flows.gallery import COLUMNS, THUMB_PX, gallery_markdown, thumb_key
from prefect_haoee.tasks.records import ImageRecord
from tests.campaigns.support import campaign_dict
from tests.support import png_bytes

LONG = "campaigns/spring-launch/2027-03-01/" + "9be89f74ea37" * 5


def stored(bucket: Any, index: int, item: Any) -> ImageRecord:
    key = f"{LONG}{index}.png"
    body = png_bytes(1024, 768, (index * 40 % 256, 90, 200))
    client = bucket.credentials.get_s3_client()
    client.put_object(Bucket=bucket.bucket_name, Key=key, Body=body)
    return ImageRecord(
        request_hash=item.request_hash,
        generated_hash=item.request_hash,
        req_key=item.req_key,
        mode="sync",
        seed=item.seed,
        bucket=bucket.bucket_name,
        key=key,
        sha256="0" * 64,
        format="PNG",
        width=1024,
        height=768,
        bytes=len(body),
    )


def test_grid_of_thumbnails_with_facts_and_short_keys(s3_bucket: Any) -> None:
    plan = make_plan(Campaign.model_validate(campaign_dict()), date(2027, 3, 1))
    done = [(item, stored(s3_bucket, index, item)) for index, item in plan.iter_items()]
    text = gallery_markdown("spring-launch", s3_bucket, done)

    client = s3_bucket.credentials.get_s3_client()
    for _, record in done:
        thumb = client.get_object(Bucket=s3_bucket.bucket_name, Key=thumb_key(record.key))
        with Image.open(io.BytesIO(thumb["Body"].read())) as image:
            assert image.format == "JPEG" and max(image.size) == THUMB_PX
    rows = [line for line in text.splitlines() if line.startswith("|")]
    assert all(line.count(" | ") == COLUMNS - 1 for line in rows if "---" not in line)
    assert len(rows) == 2 + 2 * -(-len(done) // COLUMNS)  # header, rule, pictures + facts
    assert text.count("![") == len(done) and "/thumbs/" in text
    assert "**hero-shot** v0 · 1024x768 PNG" in text
    assert "`9be89f74ea37….png`" in text
    # The full key appears only as a link's title (hover), never as text in a cell.
    assert all(f'"{record.key}"' in text for _, record in done)
    assert f"`{done[0][1].key}`" not in text

    again = gallery_markdown("spring-launch", s3_bucket, done)  # thumbnails reused
    assert again.count("/thumbs/") == text.count("/thumbs/")


def test_a_file_that_is_no_image_gets_a_link_not_a_failure(s3_bucket: Any) -> None:
    plan = make_plan(Campaign.model_validate(campaign_dict()), date(2027, 3, 1))
    item = plan.item(0)
    record = stored(s3_bucket, 0, item)
    client = s3_bucket.credentials.get_s3_client()
    client.put_object(Bucket=s3_bucket.bucket_name, Key=record.key, Body=b"not a png")
    text = gallery_markdown("spring-launch", s3_bucket, [(item, record)])
    assert "![" not in text and "[image (PNG)](" in text
