"""``produce_image``: one item, from request to verified image in S3, as one task run."""

from __future__ import annotations

import functools
import hashlib
import time
from typing import Any, Literal

import anyio
from prefect import task
from prefect.cache_policies import CachePolicy
from prefect.context import TaskRunContext
from prefect_aws.s3 import S3Bucket

from prefect_haoee.blocks import HaoeeCredentials
from prefect_haoee.client import AsyncHaoeeClient, DownloadedImage, GeneratedImages
from prefect_haoee.client.catalog import CATALOG, Mode
from prefect_haoee.client.errors import (
    ContentRejectedError,
    DownloadError,
    TaskExpiredError,
    TaskFailedError,
    TaskNotFoundError,
)
from prefect_haoee.client.requests.base import VisualRequest
from prefect_haoee.tasks.cache import RESULT_URL_EXPIRATION, SUBMIT_EXPIRATION, step_key
from prefect_haoee.tasks.clients import ClientSpec, item_client
from prefect_haoee.tasks.gateway import to_submitted
from prefect_haoee.tasks.records import ImageRecord, StepTimings, SubmittedGeneration
from prefect_haoee.tasks.retry_rules import (
    PAID_RETRIES,
    PAID_RETRY_DELAYS,
    RETRY_JITTER,
    retry_if_retryable,
)
from prefect_haoee.tasks.s3_ledger import paid_twice_with, paying_run, record_from_head
from prefect_haoee.tasks.steps import persisted_step
from prefect_haoee.tasks.storage import (
    META_PAID_BY,
    META_REQUEST_HASH,
    find_stored,
    head_object,
    put_image,
)

DEFAULT_MAX_RESEEDS = 2
ModeChoice = Literal["auto", "sync", "async"]


def resolve_mode(request: VisualRequest, mode: ModeChoice) -> Mode:
    """``auto`` takes the catalog's preferred mode; an unsupported explicit mode is an error."""
    spec = CATALOG.get(request.req_key)
    if mode == "auto":
        return spec.preferred_mode if spec else "sync"
    if spec is not None and not spec.supports(mode):
        raise ValueError(f"{request.req_key} does not support mode {mode!r} (only {spec.modes})")
    return mode


def reseed(request_hash: str, attempt: int) -> int:
    """A new, deterministic seed for the n-th retry after output moderation."""
    digest = hashlib.sha256(f"{request_hash}:reseed:{attempt}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 2_147_483_647


def default_stem(prefix: str, request_hash: str) -> str:
    return f"{prefix.strip('/')}/{request_hash}" if prefix.strip("/") else request_hash


class ProducePolicy(CachePolicy):
    """A finished item is keyed by request hash + destination: a rerun is one cache read."""

    def compute_key(
        self,
        task_ctx: TaskRunContext,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        request = inputs.get("request")
        bucket = inputs.get("bucket")
        if not isinstance(request, VisualRequest) or not request.is_deterministic:
            return None
        name = getattr(bucket, "bucket_name", "")
        folder = getattr(bucket, "bucket_folder", "")
        place = f"{name}/{folder}/{inputs.get('prefix', '')}/{inputs.get('object_stem')}"
        where = hashlib.sha256(place.encode()).hexdigest()
        return step_key(f"produce-{where[:16]}", request.request_hash)


class ItemRun:
    """The steps of one item, with what each cost and how long it took."""

    def __init__(
        self, client: AsyncHaoeeClient, request: VisualRequest, mode: Mode, wait_timeout: float
    ) -> None:
        self.client = client
        self.original = request
        self.request = request
        self.mode = mode
        self.wait_timeout = wait_timeout
        self.paid = 0
        self.resumed = False
        self.reseeds = 0
        self.failed_tasks = 0
        self.force_resubmit = False
        self.task_id: str | None = None
        self.timings = StepTimings()
        self.gateway_request_id: str | None = None

    def key(self, step: str) -> str | None:
        return step_key(step, self.request.request_hash) if self.request.is_deterministic else None

    async def _generate_sync(self, overwrite: bool = False) -> GeneratedImages:
        async def call() -> GeneratedImages:
            images = await self.client.generate(self.request)
            self.paid += 1  # counted once the gateway accepted it (a refusal is not billed)
            return images

        started = time.perf_counter()
        images, reused = await persisted_step(
            self.key("generate"),
            call,
            expiration=RESULT_URL_EXPIRATION,
            serializable=True,
            overwrite=overwrite,
        )
        self.timings = self.timings.model_copy(update={"generate_s": time.perf_counter() - started})
        self.resumed = self.resumed or reused
        self.gateway_request_id = images.request_id
        return images

    async def _submit(self, overwrite: bool = False) -> SubmittedGeneration:
        async def call() -> SubmittedGeneration:
            result = await self.client.submit(self.request)
            self.paid += 1
            return to_submitted(self.request, result.task_id, result.request_id)

        submitted, reused = await persisted_step(
            self.key("submit"),
            call,
            expiration=SUBMIT_EXPIRATION,
            serializable=True,
            overwrite=overwrite,
        )
        self.resumed = self.resumed or reused
        self.task_id = submitted.task_id
        self.gateway_request_id = submitted.gateway_request_id
        return submitted

    async def _wait(
        self, submitted: SubmittedGeneration, overwrite: bool = False
    ) -> GeneratedImages:
        async def call() -> GeneratedImages:
            return await self.client.wait(
                submitted.req_key,
                submitted.task_id,
                timeout=self.wait_timeout,
                return_url=submitted.return_url,
                logo_info=submitted.logo_info,
            )

        started = time.perf_counter()
        images, _ = await persisted_step(
            self.key(f"wait-{submitted.task_id}"),
            call,
            expiration=RESULT_URL_EXPIRATION,
            serializable=False,
            overwrite=overwrite,
        )
        self.timings = self.timings.model_copy(update={"wait_s": time.perf_counter() - started})
        return images

    async def _generate_async(self) -> GeneratedImages:
        started = time.perf_counter()
        submitted = await self._submit(overwrite=self.force_resubmit)
        self.force_resubmit = False
        self.timings = self.timings.model_copy(update={"generate_s": time.perf_counter() - started})
        try:
            return await self._wait(submitted)
        except (TaskNotFoundError, TaskExpiredError):
            # The gateway forgot the task (older than 12 h): resubmit once, and only once.
            submitted = await self._submit(overwrite=True)
            return await self._wait(submitted)

    async def generate(self, max_reseeds: int) -> GeneratedImages:
        """Paid generation, reseeding after output moderation (50511/50519) at most N times."""
        while True:
            try:
                if self.mode == "sync":
                    return await self._generate_sync()
                return await self._generate_async()
            except ContentRejectedError as exc:
                can_reseed = exc.retryable and "seed" in type(self.request).model_fields
                if not can_reseed or self.reseeds >= max_reseeds:
                    raise
                self._reseed()
            except TaskFailedError:
                # The gateway's task ended failed: polling again answers the same, so submit
                # once more - with a new seed where the model has one, so the new request
                # (billed again, as the failed one may have been) is a distinct image.
                if self.failed_tasks >= 1:
                    raise
                self.failed_tasks += 1
                if "seed" in type(self.request).model_fields:
                    self._reseed()
                else:
                    self.force_resubmit = True

    def _reseed(self) -> None:
        self.reseeds += 1
        self.request = self.original.with_seed(reseed(self.original.request_hash, self.reseeds))

    async def download(self, images: GeneratedImages) -> list[DownloadedImage]:
        """Fetch every image; a result URL that expired is fetched again once (free if async)."""
        started = time.perf_counter()
        try:
            out = [await self.client.download(src) for src in images.sources()]
        except DownloadError as exc:
            if exc.http_status not in (403, 404):
                raise
            if self.mode == "async" and self.task_id is not None:
                fresh = await self._wait(
                    to_submitted(self.request, self.task_id, self.gateway_request_id),
                    overwrite=True,
                )
            elif self.resumed:
                # A stored sync answer whose URLs died: the image was never kept; regenerate.
                fresh = await self._generate_sync(overwrite=True)
            else:
                raise
            out = [await self.client.download(src) for src in fresh.sources()]
        self.timings = self.timings.model_copy(update={"download_s": time.perf_counter() - started})
        return out


@task(
    name="haoee-produce-image",
    task_run_name="produce-{request.req_key}",
    cache_policy=ProducePolicy(),
    persist_result=True,
    retries=PAID_RETRIES,
    retry_delay_seconds=PAID_RETRY_DELAYS,
    retry_jitter_factor=RETRY_JITTER,
    retry_condition_fn=retry_if_retryable,
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
    started = time.perf_counter()
    chosen = resolve_mode(request, mode)
    stem = object_stem or default_stem(prefix, request.request_hash)
    if skip_if_stored:
        existing = await anyio.to_thread.run_sync(find_stored, bucket, stem)
        if existing is not None:
            head = await anyio.to_thread.run_sync(head_object, bucket, existing)
            if head is not None:
                return record_from_head(request, chosen, bucket, existing, head)

    http, own_client = await item_client(client, credentials, client_spec)
    try:
        run = ItemRun(http, request, chosen, wait_timeout)
        images = await run.generate(max_reseeds)
        downloaded = await run.download(images)
    finally:
        if own_client:
            await http.aclose()

    first = downloaded[0]
    payer = paying_run()
    meta: dict[str, Any] = {
        **(metadata or {}),
        META_REQUEST_HASH: request.request_hash,
        "generated-hash": run.request.request_hash,
        "req-key": request.req_key,
        "seed": run.request.seed_value,
        "mode": chosen,
        "format": first.format,
        "width": first.width,
        "height": first.height,
        "gateway-request-id": run.gateway_request_id,
        META_PAID_BY: payer if run.paid else None,
    }
    upload_started = time.perf_counter()
    stored = []
    for index, image in enumerate(downloaded):
        suffix = "" if index == 0 else f"-{index}"
        key = f"{stem}{suffix}.{image.extension}"
        # Without skip_if_stored the caller has just listed S3 (a campaign plan): no HEAD.
        upload = functools.partial(
            put_image, image, bucket, key, meta, check_existing=skip_if_stored
        )
        stored.append(await anyio.to_thread.run_sync(upload))
    now = time.perf_counter()
    timings = run.timings.model_copy(
        update={"upload_s": now - upload_started, "total_s": now - started}
    )
    return ImageRecord(
        request_hash=request.request_hash,
        generated_hash=run.request.request_hash,
        req_key=request.req_key,
        mode=chosen,
        seed=run.request.seed_value,
        bucket=bucket.bucket_name,
        key=stored[0].key,
        extra_keys=[s.key for s in stored[1:]],
        sha256=first.sha256,
        format=first.format,
        width=first.width,
        height=first.height,
        bytes=first.size,
        gateway_request_id=run.gateway_request_id,
        task_id=run.task_id,
        cost_units=run.paid,
        paid_by=payer if run.paid else None,
        paid_twice_with=paid_twice_with(run.paid, payer, [s.found_payer for s in stored]),
        reseeds=run.reseeds,
        source="resumed" if run.resumed and run.paid == 0 else "generated",
        cache_hit=run.paid == 0,
        timings=timings,
    )
