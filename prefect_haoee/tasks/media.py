"""``produce_media``: one item of another family (OpenAI-style images, video, music).

The same guarantees as ``produce_image``: S3 first (an object named by the request hash is
never paid for again), each paid step committed on its own (``haoee-job-submit-<hash>``,
``haoee-images-generate-<hash>``) so a crash resumes by polling, a job the gateway forgot
resubmitted once. Video and audio are streamed: downloaded into a spooled temporary file
(in memory up to 8 MB, then on disk) and uploaded from it, never held whole in memory.
"""

from __future__ import annotations

import tempfile
import time
from typing import Any, BinaryIO, Literal, cast

import anyio
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect_aws.s3 import S3Bucket

from prefect_haoee.blocks import HaoeeCredentials
from prefect_haoee.client import AsyncHaoeeClient, DownloadedImage, GeneratedImages
from prefect_haoee.client.catalog import Mode
from prefect_haoee.client.errors import DownloadError, TaskExpiredError, TaskNotFoundError
from prefect_haoee.client.families import MEDIA_OF_KIND, FamilyRequest, JobHandle, JobState
from prefect_haoee.client.media import DownloadedMedia
from prefect_haoee.tasks.cache import RESULT_URL_EXPIRATION, SUBMIT_EXPIRATION, step_key
from prefect_haoee.tasks.clients import ClientSpec, item_client
from prefect_haoee.tasks.produce import default_stem
from prefect_haoee.tasks.records import ImageRecord, StepTimings
from prefect_haoee.tasks.retry_rules import (
    PAID_RETRIES,
    PAID_RETRY_DELAYS,
    RETRY_JITTER,
    retry_if_retryable,
)
from prefect_haoee.tasks.s3_ledger import paid_twice_with, paying_run, stored_record
from prefect_haoee.tasks.steps import persisted_step
from prefect_haoee.tasks.storage import (
    META_PAID_BY,
    META_REQUEST_HASH,
    META_SHA256,
    clean_metadata,
    full_key,
    head_object,
    payer_of,
    put_image,
    s3_client,
)

SPOOL_BYTES = 8 * 1024 * 1024


class MediaRun:
    """The paid and free steps of one family item."""

    def __init__(self, client: AsyncHaoeeClient, request: FamilyRequest, wait_timeout: float):
        self.client = client
        self.request = request
        self.wait_timeout = wait_timeout
        self.paid = 0
        self.resumed = False
        self.job_id: str | None = None
        self.resubmitted = False

    def key(self, step: str) -> str | None:
        r = self.request
        return step_key(step, r.request_hash) if r.is_deterministic else None

    async def generate_images(self, overwrite: bool = False) -> GeneratedImages:
        async def call() -> GeneratedImages:
            images = await self.client.generate_images(self.request)
            self.paid += 1
            return images

        images, reused = await persisted_step(
            self.key("images-generate"),
            call,
            expiration=RESULT_URL_EXPIRATION,
            serializable=True,
            overwrite=overwrite,
        )
        self.resumed = reused
        return images

    async def _submit(self, overwrite: bool = False) -> JobHandle:
        async def call() -> JobHandle:
            handle = await self.client.submit_job(self.request)
            self.paid += 1
            return handle

        handle, reused = await persisted_step(
            self.key("job-submit"),
            call,
            expiration=SUBMIT_EXPIRATION,
            serializable=True,
            overwrite=overwrite,
        )
        self.resumed = self.resumed or reused
        self.job_id = handle.job_id
        return handle

    async def _wait(self, handle: JobHandle, overwrite: bool = False) -> JobState:
        async def call() -> JobState:
            return await self.client.wait_job(handle, timeout=self.wait_timeout)

        state, _ = await persisted_step(
            self.key(f"job-wait-{handle.job_id}"),
            call,
            expiration=RESULT_URL_EXPIRATION,
            serializable=False,
            overwrite=overwrite,
        )
        return state

    async def run_job(self, refresh: bool = False) -> JobState:
        """Submit (or reuse the committed submission) and wait; ``refresh`` polls again
        instead of reading the stored answer (its file URLs may have expired: free)."""
        handle = await self._submit()
        try:
            return await self._wait(handle, overwrite=refresh)
        except (TaskNotFoundError, TaskExpiredError):
            if self.resubmitted:
                raise
            self.resubmitted = True  # the gateway forgot the job: once, and only once
            return await self._wait(await self._submit(overwrite=True))

    async def sources(self, mode: Mode, refresh: bool = False) -> list[str]:
        """The answer's file URLs (or inline images); ``refresh`` asks the gateway again."""
        if mode == "sync":
            return (await self.generate_images(overwrite=refresh)).sources()
        return list((await self.run_job(refresh)).file_urls)


async def stream_media(
    client: AsyncHaoeeClient,
    url: str,
    kind: Literal["video", "audio"],
    bucket: S3Bucket,
    stem: str,
    index: int,
    metadata: dict[str, Any],
) -> tuple[DownloadedMedia, str, str | None]:
    """Stream one media file into S3 through a spooled temporary file; return it, its key
    and, when an object was already there, the run its metadata names as payer."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        media = await client.download_media(url, spool, kind)
        suffix = "" if index == 0 else f"-{index}"
        key = f"{stem}{suffix}.{media.extension}"
        existing = await anyio.to_thread.run_sync(head_object, bucket, key)
        found = payer_of(existing) if existing is not None else None
        if existing is None or existing.get("Metadata", {}).get(META_SHA256) != media.sha256:
            meta = clean_metadata(
                {
                    **metadata,
                    META_SHA256: media.sha256,
                    "duration": media.duration_s,
                    "format": media.format,
                }
            )
            spool.seek(0)
            # boto3's managed upload (multipart for big files), at the key every other
            # read and write uses: not the block's method, which joins its folder its own way.
            await anyio.to_thread.run_sync(
                lambda: s3_client(bucket).upload_fileobj(
                    cast(BinaryIO, spool),
                    bucket.bucket_name,
                    full_key(bucket, key),
                    ExtraArgs={"ContentType": media.content_type, "Metadata": meta},
                )
            )
    return media, full_key(bucket, key), found


async def store_files(
    http: AsyncHaoeeClient,
    sources: list[str],
    request: FamilyRequest,
    bucket: S3Bucket,
    stem: str,
    meta: dict[str, Any],
    found: list[str | None] | None = None,
) -> tuple[DownloadedImage | DownloadedMedia | None, list[str]]:
    """Download (images, verified) or stream (video, audio) every file into S3; the payers
    named by objects already there go to ``found``."""
    found = [] if found is None else found
    keys: list[str] = []
    first: DownloadedImage | DownloadedMedia | None = None
    media_type = MEDIA_OF_KIND[request.kind]
    for index, source in enumerate(sources):
        if media_type is None:
            image = await http.download(source)
            suffix = "" if index == 0 else f"-{index}"
            key = f"{stem}{suffix}.{image.extension}"
            image_meta = {
                **meta,
                "format": image.format,
                "width": image.width,
                "height": image.height,
            }
            stored = await anyio.to_thread.run_sync(put_image, image, bucket, key, image_meta)
            keys.append(stored.key)
            found.append(stored.found_payer)
            first = first or image
        else:
            media, key, payer = await stream_media(
                http, source, media_type, bucket, stem, index, meta
            )
            keys.append(key)
            found.append(payer)
            first = first or media
    return first, keys


def resolve_family_mode(request: FamilyRequest, mode: str) -> Mode:
    """Images run sync unless asked otherwise; video and music are always async jobs."""
    if request.kind != "image":
        return "async"
    return "async" if mode == "async" else "sync"


@task(
    name="haoee-produce-media",
    task_run_name="produce-{request.family}",
    cache_policy=NO_CACHE,
    persist_result=True,
    retries=PAID_RETRIES,
    retry_delay_seconds=PAID_RETRY_DELAYS,
    retry_jitter_factor=RETRY_JITTER,
    retry_condition_fn=retry_if_retryable,
    tags=["haoee"],
)
async def produce_media(
    request: FamilyRequest,
    bucket: S3Bucket,
    prefix: str = "",
    mode: Literal["auto", "sync", "async"] = "auto",
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
    started = time.perf_counter()
    chosen = resolve_family_mode(request, mode)
    stem = object_stem or default_stem(prefix, request.request_hash)
    if skip_if_stored:
        found = await anyio.to_thread.run_sync(stored_record, request, bucket, stem, chosen)
        if found is not None:
            return found
    http, own = await item_client(client, credentials, client_spec)
    run = MediaRun(http, request, wait_timeout)
    meta: dict[str, Any] = {
        **(metadata or {}),
        META_REQUEST_HASH: request.request_hash,
        "generated-hash": request.request_hash,
        "req-key": request.model_id,
        "mode": chosen,
        "kind": request.kind,
    }
    payer = paying_run()
    payers: list[str | None] = []
    try:
        sources = await run.sources(chosen)
        if run.paid:
            meta[META_PAID_BY] = payer
        try:
            first, keys = await store_files(http, sources, request, bucket, stem, meta, payers)
        except DownloadError as exc:
            # Stored answers outlive their file URLs: poll again (free) or, for a sync
            # answer we did not just pay for, generate again - the file was never kept.
            if exc.http_status not in (403, 404) or (chosen == "sync" and not run.resumed):
                raise
            sources = await run.sources(chosen, refresh=True)
            if run.paid:
                meta[META_PAID_BY] = payer
            first, keys = await store_files(http, sources, request, bucket, stem, meta, payers)
    finally:
        if own:
            await http.aclose()
    if first is None:
        from prefect_haoee.client.errors import TransportError

        raise TransportError(f"{request.family} answered no file for {request.request_hash}")
    is_image = isinstance(first, DownloadedImage)
    return ImageRecord(
        request_hash=request.request_hash,
        generated_hash=request.request_hash,
        kind=request.kind,
        req_key=request.model_id,
        mode=chosen,
        seed=None,
        bucket=bucket.bucket_name,
        key=keys[0],
        extra_keys=keys[1:],
        sha256=first.sha256,
        format=first.format,
        width=first.width if isinstance(first, DownloadedImage) else 0,
        height=first.height if isinstance(first, DownloadedImage) else 0,
        bytes=first.size,
        duration_s=None if is_image else getattr(first, "duration_s", None),
        task_id=run.job_id,
        cost_units=run.paid,
        paid_by=payer if run.paid else None,
        paid_twice_with=paid_twice_with(run.paid, payer, payers),
        source="resumed" if run.resumed and run.paid == 0 else "generated",
        cache_hit=run.paid == 0,
        timings=StepTimings(total_s=time.perf_counter() - started),
    )
