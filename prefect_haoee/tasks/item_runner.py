"""One item of any kind, from request to stored file: ``generate | submit -> wait -> fetch
-> store``, written once for images, video and music of every gateway API.

:func:`produce_item` is the plain coroutine behind the ``produce_image`` and
``produce_media`` tasks; a flow may call it from inside any task run, or outside one. Its
rules:

* S3 first: an object named by the request hash is the item, no gateway call;
* each paid step goes through the ledger (:mod:`~prefect_haoee.tasks.ledger`, in the output
  bucket by default) under the names the request declares (``request.step_names``):
  another run or machine paying for the same request is waited for and its answer taken,
  and a crash resumes by polling the committed job, never by paying again; the calls are
  the client's job protocol (``generate``, ``submit_job``, ``wait_generation``);
* output moderation (50511/50519) is met with a new deterministic seed, at most
  ``max_reseeds`` times; a task that ended failed is submitted once more (with a new
  seed where the model has one); a task the gateway forgot (older than 12 h) is
  resubmitted once - each of these once per item, never in a loop;
* a stored answer whose file URLs died (403/404) is asked again once: polled (free) for
  an async task, regenerated for a sync answer an earlier run committed (replacing that
  entry's version only, so machines that meet the same dead URLs at once pay once).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
from prefect_aws.s3 import S3Bucket

from prefect_haoee.blocks import HaoeeCredentials
from prefect_haoee.client import AsyncHaoeeClient, GeneratedImages, JobHandle, TransportError
from prefect_haoee.client.catalog import Mode
from prefect_haoee.client.errors import (
    ContentRejectedError,
    DownloadError,
    TaskExpiredError,
    TaskFailedError,
    TaskNotFoundError,
)
from prefect_haoee.client.kinds import MEDIA_OF_KIND, ModeChoice
from prefect_haoee.client.protocol import AnyRequest, resolve_mode
from prefect_haoee.tasks.clients import ClientSpec, item_client
from prefect_haoee.tasks.item_files import StoredFile, answer_sources, default_stem, store_files
from prefect_haoee.tasks.ledger import Ledger, ledger_for
from prefect_haoee.tasks.ledger_entry import RESULT_URL_EXPIRATION, SUBMIT_EXPIRATION, step_key
from prefect_haoee.tasks.records import (
    META_PAID_BY,
    META_REQUEST_HASH,
    ImageRecord,
    StepTimings,
)
from prefect_haoee.tasks.stored import paid_twice_with, paying_run, stored_record

T = TypeVar("T", bound=JobHandle | GeneratedImages)
PaidCall = Callable[[], Awaitable[T]]

DEFAULT_MAX_RESEEDS = 2
WAIT_TIMEOUTS = {"image": 600.0, "video": 1800.0, "music": 1800.0}
"""Default poll deadline per kind (seconds)."""


def reseed(request_hash: str, attempt: int) -> int:
    """A new, deterministic seed for the n-th retry after output moderation."""
    digest = hashlib.sha256(f"{request_hash}:reseed:{attempt}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 2_147_483_647


@dataclass(frozen=True)
class Place:
    """Where the item's files go, and with what metadata."""

    bucket: S3Bucket
    stem: str
    metadata: dict[str, Any] | None
    payer: str
    check_existing: bool


class ItemRunner:
    """The paid and free steps of one item, with what they cost and how long they took."""

    def __init__(
        self,
        client: AsyncHaoeeClient,
        request: AnyRequest,
        mode: Mode,
        wait_timeout: float,
        ledger: Ledger,
        payer: str,
    ) -> None:
        self.client = client
        self.ledger = ledger
        self.payer = payer
        self.versions: dict[str, str | None] = {}
        """The ledger version of each step's answer (replaced when asked again)."""
        self.paid_twice = False
        self.paid_by: str | None = None
        """The run that paid for the answer (this one, or the one the ledger names)."""
        self.steps = request.step_names
        self.original = self.request = request
        self.mode = mode
        self.wait_timeout = wait_timeout
        self.paid = self.reseeds = 0
        self.resumed = self.resubmitted = self.retried_failure = False
        self.handle: JobHandle | None = None
        self.gateway_request_id: str | None = None
        self.timings = StepTimings()

    def _key(self, step: str) -> str | None:
        request = self.request
        return step_key(step, request.request_hash) if request.is_deterministic else None

    def _took(self, step: str, started: float) -> None:
        spent = getattr(self.timings, step) + time.perf_counter() - started
        self.timings = self.timings.model_copy(update={step: spent})

    async def _paid(self, step: str, call: PaidCall[T], again: bool) -> T:
        """One paid call through the ledger under ``step`` (counted once the gateway
        accepted it: a refusal is not billed). ``again`` pays anew for the answer this
        item read or paid before (its version), never for one another holder has since."""

        async def pay() -> T:
            answer = await call()
            self.paid += 1
            return answer

        key = self._key(step)
        expiration = SUBMIT_EXPIRATION if step == self.steps.submit else RESULT_URL_EXPIRATION
        replace = self.versions.get(key or "") if again else None
        outcome = await self.ledger.step(
            key,
            pay,
            expiration=expiration,
            payer=self.payer,
            replace=replace,
            scrub=self.client.scrub,
        )
        self.versions[key or ""] = outcome.version
        self.paid_twice = self.paid_twice or outcome.paid_twice
        self.paid_by = outcome.paid_by or self.paid_by
        self.resumed = self.resumed or outcome.reused
        return outcome.value

    async def _generate(self, again: bool = False) -> GeneratedImages:
        started = time.perf_counter()
        request = self.request
        images = await self._paid(self.steps.generate, lambda: self.client.generate(request), again)
        self.gateway_request_id = images.request_id or self.gateway_request_id
        self._took("generate_s", started)
        return images

    async def _submit(self, again: bool = False) -> JobHandle:
        started = time.perf_counter()
        request = self.request
        handle = await self._paid(self.steps.submit, lambda: self.client.submit_job(request), again)
        self.handle = handle
        self.gateway_request_id = handle.gateway_request_id or self.gateway_request_id
        self._took("generate_s", started)
        return handle

    async def _wait(self, handle: JobHandle) -> GeneratedImages:
        """Poll (free, so nothing is committed: a rerun polls the committed job again)."""
        started = time.perf_counter()
        answer = await self.client.wait_generation(handle, timeout=self.wait_timeout)
        self._took("wait_s", started)
        return answer

    async def answer(self, *, refresh: bool = False, resubmit: bool = False) -> GeneratedImages:
        """The finished answer: generated (sync) or submitted and waited for (async).

        ``refresh`` asks the gateway again instead of reading the committed answer (a sync
        one is paid again, a poll is free); ``resubmit`` pays a new submission."""
        if self.mode == "sync":
            return await self._generate(again=refresh)
        if refresh and self.handle is not None:
            handle = self.handle  # this run's submission: poll it again (free)
        else:
            handle = await self._submit(again=resubmit)
        try:
            return await self._wait(handle)
        except (TaskNotFoundError, TaskExpiredError):
            if self.resubmitted:
                raise
            self.resubmitted = True  # the gateway forgot the task: once, and only once
            return await self._wait(await self._submit(again=True))

    async def generate(self, max_reseeds: int) -> GeneratedImages:
        """The paid answer, reseeding after output moderation at most ``max_reseeds`` times."""
        resubmit = False
        while True:
            try:
                again, resubmit = resubmit, False
                return await self.answer(resubmit=again)
            except ContentRejectedError as exc:
                if not exc.retryable or not self.request.can_reseed:
                    raise
                if self.reseeds >= max_reseeds:
                    raise
                self._reseed()
            except TaskFailedError:
                # Polling again answers the same: submit once more - with a new seed where
                # the model has one, so the new request (billed again, as the failed one
                # may have been) is a distinct image.
                if self.retried_failure:
                    raise
                self.retried_failure = True
                resubmit = not self.request.can_reseed
                if not resubmit:
                    self._reseed()

    def _reseed(self) -> None:
        self.reseeds += 1
        self.request = self.original.with_seed(reseed(self.original.request_hash, self.reseeds))

    async def store(self, answer: GeneratedImages, place: Place) -> list[StoredFile]:
        """Fetch and store every file; file URLs that died are asked for again once."""
        try:
            files = await self._store_files(answer, place)
        except DownloadError as exc:
            # A committed answer outlives its file URLs: poll again (free), or generate again
            # a sync answer we did not just pay for (its file was never kept).
            if exc.http_status not in (403, 404) or (self.mode == "sync" and not self.resumed):
                raise
            files = await self._store_files(await self.answer(refresh=True), place)
        spent = {
            "download_s": sum(f.download_s for f in files),
            "upload_s": sum(f.upload_s for f in files),
        }
        self.timings = self.timings.model_copy(update=spent)
        if not files:
            raise TransportError(f"the gateway answered no file for {self.original.request_hash}")
        return files

    async def _store_files(self, answer: GeneratedImages, place: Place) -> list[StoredFile]:
        return await store_files(
            self.client,
            answer_sources(answer, self.original),
            MEDIA_OF_KIND[self.original.kind],
            place.bucket,
            place.stem,
            self.metadata(place.metadata, place.payer),
            check_existing=place.check_existing,
        )

    def metadata(self, given: dict[str, Any] | None, payer: str) -> dict[str, Any]:
        """The S3 user metadata of the item's files (read back by ``ImageRecord.from_head``)."""
        return {
            **(given or {}),
            META_REQUEST_HASH: self.original.request_hash,
            "generated-hash": self.request.request_hash,
            "req-key": self.original.model_id,
            "kind": self.original.kind,
            "seed": self.request.seed_value,
            "mode": self.mode,
            "gateway-request-id": self.gateway_request_id,
            META_PAID_BY: payer if self.paid else self.paid_by,
        }

    def record(self, bucket: str, files: list[StoredFile], payer: str) -> ImageRecord:
        return ImageRecord(
            request_hash=self.original.request_hash,
            generated_hash=self.request.request_hash,
            kind=self.original.kind,
            req_key=self.original.model_id,
            mode=self.mode,
            seed=self.request.seed_value,
            bucket=bucket,
            **files[0].record_fields(),
            extra_keys=[f.key for f in files[1:]],
            gateway_request_id=self.gateway_request_id,
            task_id=self.handle.job_id if self.handle is not None else None,
            cost_units=self.paid,
            paid_by=payer if self.paid else self.paid_by,
            paid_twice_with=paid_twice_with(
                self.paid, payer, [f.found_payer for f in files], self.paid_twice
            ),
            reseeds=self.reseeds,
            source="resumed" if self.resumed and self.paid == 0 else "generated",
            cache_hit=self.paid == 0,
            timings=self.timings,
        )


async def produce_item(
    request: AnyRequest,
    bucket: S3Bucket,
    prefix: str = "",
    mode: ModeChoice = "auto",
    metadata: dict[str, Any] | None = None,
    credentials: HaoeeCredentials | None = None,
    client: AsyncHaoeeClient | None = None,
    client_spec: ClientSpec | None = None,
    max_reseeds: int = DEFAULT_MAX_RESEEDS,
    wait_timeout: float | None = None,
    skip_if_stored: bool = True,
    object_stem: str | None = None,
) -> ImageRecord:
    """Produce one item of any kind into ``bucket``; return its record (also the body of
    the ``produce_image`` and ``produce_media`` tasks).

    The object is ``{object_stem}.{ext}`` (default ``{prefix}/{request_hash}``; further
    files of one answer get ``-1``, ``-2`` ...). ``skip_if_stored`` looks in S3 first (one
    LIST, one HEAD); a caller that has just listed S3 passes False. ``wait_timeout`` None
    takes the kind's default (:data:`WAIT_TIMEOUTS`). The client is ``client``, else the
    shared one of ``client_spec`` (``tasks.clients``), else one from ``credentials``.
    """
    started = time.perf_counter()
    chosen = resolve_mode(request, mode)
    stem = object_stem or default_stem(prefix, request.request_hash)
    if skip_if_stored:
        found = await anyio.to_thread.run_sync(stored_record, request, bucket, stem, chosen)
        if found is not None:
            return found
    timeout = wait_timeout if wait_timeout is not None else WAIT_TIMEOUTS[request.kind]
    ledger = ledger_for(bucket)
    http, own_client = await item_client(client, credentials, client_spec)
    payer = paying_run()
    try:
        run = ItemRunner(http, request, chosen, timeout, ledger, payer)
        answer = await run.generate(max_reseeds)
        place = Place(bucket, stem, metadata, payer, check_existing=skip_if_stored)
        files = await run.store(answer, place)
    finally:
        if own_client:
            await http.aclose()
    run.timings = run.timings.model_copy(update={"total_s": time.perf_counter() - started})
    return run.record(bucket.bucket_name, files, payer)
