"""``produce_media``: one item of another family (OpenAI-style images, video, music).

The same runner and guarantees as ``produce_image``
(:func:`~prefect_haoee.tasks.item_runner.produce_item`): S3 first, each paid step committed
on its own (``haoee-job-submit-<hash>``, ``haoee-images-generate-<hash>``) so a crash
resumes by polling, a job the gateway forgot resubmitted once. Video and audio are
streamed into S3 (:mod:`~prefect_haoee.tasks.item_files`), never held whole in memory.
"""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect_aws.s3 import S3Bucket

from prefect_haoee.blocks import HaoeeCredentials
from prefect_haoee.client import AsyncHaoeeClient
from prefect_haoee.client.families import FamilyRequest
from prefect_haoee.tasks.clients import ClientSpec
from prefect_haoee.tasks.item_files import SPOOL_BYTES
from prefect_haoee.tasks.item_runner import produce_item
from prefect_haoee.tasks.records import ImageRecord
from prefect_haoee.tasks.request_traits import ModeChoice
from prefect_haoee.tasks.retry_rules import retry_options

__all__ = ["SPOOL_BYTES", "produce_media"]


@task(
    name="haoee-produce-media",
    task_run_name="produce-{request.family}",
    cache_policy=NO_CACHE,
    persist_result=True,
    **retry_options(paid=True),
    tags=["haoee"],
)
async def produce_media(
    request: FamilyRequest,
    bucket: S3Bucket,
    prefix: str = "",
    mode: ModeChoice = "auto",
    metadata: dict[str, Any] | None = None,
    credentials: HaoeeCredentials | None = None,
    client: AsyncHaoeeClient | None = None,
    client_spec: ClientSpec | None = None,
    wait_timeout: float = 1800.0,
    skip_if_stored: bool = True,
    object_stem: str | None = None,
) -> ImageRecord:
    """Generate (images) or submit and wait (images, video, music), then store in S3.

    The object is ``{object_stem or prefix/request_hash}.{ext}`` (more files of one answer
    get ``-1``, ``-2`` …). Returns the record of the first file; ``extra_keys`` names the rest.
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
        wait_timeout=wait_timeout,
        skip_if_stored=skip_if_stored,
        object_stem=object_stem,
    )
