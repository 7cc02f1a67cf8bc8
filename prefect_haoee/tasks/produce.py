"""``produce_image``: one item, from request to verified image in S3, as one task run.

The steps are :func:`~prefect_haoee.tasks.item_runner.produce_item`'s (the one item
runner of every kind); this module adds the task: Prefect retries for what the client
cannot retry, and a cache of the finished record keyed by request hash + destination.
"""

from __future__ import annotations

import hashlib
from typing import Any

from prefect import task
from prefect_aws.s3 import S3Bucket

from prefect_haoee.blocks import HaoeeCredentials
from prefect_haoee.client import AsyncHaoeeClient
from prefect_haoee.client.requests.base import VisualRequest
from prefect_haoee.tasks.cache import InputsPolicy, cacheable_hash, step_key
from prefect_haoee.tasks.clients import ClientSpec
from prefect_haoee.tasks.item_runner import DEFAULT_MAX_RESEEDS, produce_item
from prefect_haoee.tasks.records import ImageRecord
from prefect_haoee.tasks.request_traits import ModeChoice, default_stem, reseed, resolve_mode
from prefect_haoee.tasks.retry_rules import retry_options

__all__ = [
    "DEFAULT_MAX_RESEEDS",
    "ModeChoice",
    "ProducePolicy",
    "default_stem",
    "produce_image",
    "reseed",
    "resolve_mode",
]


class ProducePolicy(InputsPolicy):
    """A finished item is keyed by request hash + destination: a rerun is one cache read."""

    def key_of(self, inputs: dict[str, Any]) -> str | None:
        request_hash = cacheable_hash(inputs.get("request"))
        if request_hash is None:
            return None
        bucket = inputs.get("bucket")
        name = getattr(bucket, "bucket_name", "")
        folder = getattr(bucket, "bucket_folder", "")
        place = f"{name}/{folder}/{inputs.get('prefix', '')}/{inputs.get('object_stem')}"
        where = hashlib.sha256(place.encode()).hexdigest()
        return step_key(f"produce-{where[:16]}", request_hash)


@task(
    name="haoee-produce-image",
    task_run_name="produce-{request.req_key}",
    cache_policy=ProducePolicy(),
    persist_result=True,
    **retry_options(paid=True),
    tags=["haoee"],
)
async def produce_image(
    request: VisualRequest,
    bucket: S3Bucket,
    prefix: str = "",
    mode: ModeChoice = "auto",
    metadata: dict[str, Any] | None = None,
    credentials: HaoeeCredentials | None = None,
    client: AsyncHaoeeClient | None = None,
    client_spec: ClientSpec | None = None,
    max_reseeds: int = DEFAULT_MAX_RESEEDS,
    wait_timeout: float = 600.0,
    skip_if_stored: bool = True,
    object_stem: str | None = None,
) -> ImageRecord:
    """Submit/wait (or generate), download, verify and store one image; return its record.

    The object is ``{prefix}/{request_hash}.{ext}`` (or ``{object_stem}.{ext}``, as a
    campaign plan names it). When it already exists the item costs
    one S3 LIST and no gateway call. Each paid step is committed on its own (see
    ``tasks.steps``), so a rerun after a crash resumes instead of paying again.
    """
    return await produce_item(
        request,
        bucket,
        prefix,
        mode=mode,
        metadata=metadata,
        credentials=credentials,
        client=client,
        client_spec=client_spec,
        max_reseeds=max_reseeds,
        wait_timeout=wait_timeout,
        skip_if_stored=skip_if_stored,
        object_stem=object_stem,
    )
