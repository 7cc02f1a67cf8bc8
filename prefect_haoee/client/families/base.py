"""What every non-visual family adapter shares: job states, default calls, the job
protocol (:mod:`prefect_haoee.client.protocol`) written once for all of them, and reading
answers through the one error reader (:mod:`prefect_haoee.client.answers`).

Nothing here is a guess about one family's shapes: those live in the family's own module
(``openai_images``, ``video_sora``, ``video_minimax``, ``video_kling``, ``music_suno``), so
a correction is a one-file change. Request identity is in :mod:`.identity`, answer walking
in :mod:`.reading`, polled job states in :mod:`.states`; all are re-exported here for older
imports.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, ClassVar

import httpx

from prefect_haoee.client.answers import (
    GATEWAY_CODE_RANGE,
    MODERATION_WORDS,
    SUCCESS_CODES,
    ErrorTable,
    classify_error,
    code_int,
    code_text,
    error_fields,
    error_table,
    is_success_code,
    read_json,
)
from prefect_haoee.client.calls import HttpCall, Purpose
from prefect_haoee.client.catalog import Mode
from prefect_haoee.client.errors import HaoeeError, RateLimitedError, TransportError
from prefect_haoee.client.families.identity import (
    FamilyName,
    FamilyRequest,
    MediaKind,
    image_identity,
)
from prefect_haoee.client.families.reading import (
    COMMON_STATUSES,
    JobStatus,
    collect_strings,
    encode_multipart,
    first_present,
    normalise_status,
    parse_progress,
    submitted_id,
    unwrap,
)
from prefect_haoee.client.families.states import JobState, needs_file_lookup, raise_for_job
from prefect_haoee.client.flow import Flow, Sender
from prefect_haoee.client.handles import JobHandle
from prefect_haoee.client.redact import Scrubber
from prefect_haoee.client.registry import ModelFamily, register
from prefect_haoee.client.responses import GeneratedImages

__all__ = [
    "COMMON_STATUSES",
    "GATEWAY_CODE_RANGE",
    "MODERATION_WORDS",
    "SUCCESS_CODES",
    "ErrorTable",
    "FamilyAdapter",
    "FamilyName",
    "FamilyRequest",
    "HttpCall",
    "JobHandle",
    "JobState",
    "JobStatus",
    "MediaKind",
    "Purpose",
    "classify_error",
    "code_int",
    "code_text",
    "collect_strings",
    "encode_multipart",
    "error_fields",
    "error_table",
    "first_present",
    "image_identity",
    "is_success_code",
    "needs_file_lookup",
    "normalise_status",
    "parse_progress",
    "raise_for_job",
    "submitted_id",
    "unwrap",
]


class FamilyAdapter:
    """Build a family's calls and read its answers (no I/O). One instance per family.

    A JSON family only names its paths: ``submit_path`` (``{variant}`` is the request's
    sub-route) and ``poll_path`` (``{job_id}``, ``{variant}``); ``id_keys`` are where the
    submission answer holds the job id. It overrides what its API does differently.
    """

    family: ClassVar[FamilyName]
    kind: ClassVar[MediaKind]
    errors: ClassVar[ErrorTable] = ErrorTable()
    request_types: ClassVar[tuple[type[FamilyRequest], ...]] = ()
    supports_webhook: ClassVar[bool] = False
    model_patterns: ClassVar[tuple[str, ...]] = ()
    """Model names this family serves (case-insensitive regexes; see the registry)."""
    modes: ClassVar[tuple[Mode, ...]] = ("async",)
    price: ClassVar[float | None] = None
    """Guessed price of one request (CNY), for budgets; campaigns may override it."""
    example: ClassVar[str | None] = None
    rank: ClassVar[int] = 100
    submit_path: ClassVar[str] = ""
    poll_path: ClassVar[str] = ""
    id_keys: ClassVar[tuple[str, ...]] = ("task_id",)
    statuses: ClassVar[Mapping[str, JobStatus]] = {}
    status_keys: ClassVar[tuple[str, ...]] = ("status",)
    reason_keys: ClassVar[tuple[str, ...]] = ()
    no_status: ClassVar[str] = "the answer has no status"
    done_progress: ClassVar[float | None] = 1.0
    """The progress of a succeeded job (None: as the gateway says)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.request_types:  # the requests name their family and kind
            cls.family = cls.request_types[0].family
            cls.kind = cls.request_types[0].kind

    def __init__(self) -> None:
        """Declare this family's models in the registry (one adapter instance a family)."""
        register(
            ModelFamily(
                self.family,
                self.kind,
                self.modes,
                self.model_patterns,
                price=self.price,
                example=self.example,
                rank=self.rank,
                adapter=self,
            )
        )

    # -- the job protocol (client.protocol.JobAdapter), the same for every family --------

    def generate_call(self, request: FamilyRequest, model_name: str | None = None) -> HttpCall:
        """The paid synchronous call (a family that has one overrides :meth:`sync_call`)."""
        if model_name is not None:
            raise ValueError(f"the {self.family} family takes no model_name")
        self.check_request(request)
        return self.sync_call(request)

    def generated(self, answer: Any) -> GeneratedImages:
        """The finished answer of :meth:`generate_call` (an answer without a file is unusable)."""
        raise TransportError(f"the {self.family} family answers no synchronous generation")

    def job_call(self, request: FamilyRequest, *, webhook: str | None = None) -> HttpCall:
        """The paid submission of ``request`` (``webhook`` only where the family takes one)."""
        self.check_request(request)
        if webhook is not None and not self.supports_webhook:
            raise ValueError(f"the {self.family} family takes no webhook")
        return self.submit_call(request, webhook=webhook)

    def submitted(self, request: FamilyRequest, answer: Any) -> JobHandle:
        """The handle of an accepted submission (its answer holds the job id)."""
        return self.handle_for(request, self.parse_submit(answer))

    def poll_once(
        self, handle: JobHandle, send: Sender, base_url: str
    ) -> Flow[tuple[GeneratedImages | None, object]]:
        """One poll: the answer once the job succeeded (raise if it failed), else None."""
        state = yield from self.poll_flow(handle, send, base_url)
        if not state.finished:
            return None, state.raw_status
        return raise_for_job(state).answer(), state.raw_status

    def poll_flow(self, handle: JobHandle, send: Sender, base_url: str) -> Flow[JobState]:
        """One poll's state; file ids (MiniMax) resolved to download URLs once succeeded."""
        state = self.parse_poll((yield from send(self.poll_call(handle))), handle, base_url)
        if needs_file_lookup(state):
            urls = []
            for file_id in state.file_ids:
                urls.append(self.parse_file((yield from send(self.file_call(handle, file_id)))))
            state = state.model_copy(update={"file_urls": urls})
        return state

    def check_request(self, request: object) -> None:
        if not isinstance(request, self.request_types):
            raise TypeError(f"{type(request).__name__} is not a {self.family} request")

    # -- the hooks a family fills ----------------------------------------------------------

    def sync_call(self, request: FamilyRequest) -> HttpCall:
        raise TypeError(f"generate takes an images request, not {type(request).__name__}")

    def submit_call(self, request: FamilyRequest, *, webhook: str | None = None) -> HttpCall:
        if not isinstance(request, self.request_types):
            raise TypeError(f"not a {self.family} request: {type(request).__name__}")
        path = self.submit_path.format(variant=request.variant)
        return HttpCall(self.family, "submit", "POST", path, json=request.to_body())

    def parse_submit(self, payload: Any) -> str:
        """The job id of an accepted submission."""
        return submitted_id(payload, *self.id_keys)

    def poll_call(self, handle: JobHandle) -> HttpCall:
        path = self.poll_path.format(job_id=handle.job_id, variant=handle.variant)
        return HttpCall(self.family, "poll", "GET", path)

    def parse_poll(self, payload: Any, handle: JobHandle, base_url: str) -> JobState:
        """One poll answer as a :class:`JobState`: the template every family fills with
        its hooks (where the task object is, how it names failures and files)."""
        task = self.task_object(payload)
        raw = first_present(task, *self.status_keys)
        if raw is None:
            raise TransportError(self.no_status)
        status = normalise_status(raw, self.statuses)
        progress = self.progress_of(task)
        if status == "failed":
            code, message = self.failure_of(task)
            return self.failed_state(
                handle, raw_status=str(raw), code=code, message=message, progress=progress
            )
        fields = self.details_of(task)
        if status == "succeeded":
            fields.update(self.files_of(task, handle, base_url))
            if self.done_progress is not None:
                progress = self.done_progress
        return self.state(handle, status, raw, progress=progress, **fields)

    def task_object(self, payload: Any) -> Any:
        """The object holding the status: a gateway envelope's ``data``, else the answer."""
        data = payload.get("data") if isinstance(payload, dict) else None
        if isinstance(data, dict) and first_present(data, *self.status_keys) is not None:
            return data
        return payload

    def progress_of(self, task: Any) -> float | None:
        return parse_progress(first_present(task, "progress"))

    def failure_of(self, task: Any) -> tuple[Any, str | None]:
        """(code, message) of a failed task: ``reason_keys`` first, then ``error``."""
        error = task.get("error") if isinstance(task, dict) else None
        error = error if isinstance(error, dict) else {}
        return error.get("code"), first_present(task, *self.reason_keys) or error.get("message")

    def details_of(self, task: Any) -> dict[str, Any]:
        """State fields of any running or succeeded poll (family extras)."""
        return {}

    def files_of(self, task: Any, handle: JobHandle, base_url: str) -> dict[str, Any]:
        """State fields of a succeeded poll: ``file_urls`` (or ``file_ids``), extras."""
        raise NotImplementedError

    def file_call(self, handle: JobHandle, file_id: str) -> HttpCall:
        raise NotImplementedError(f"{self.family} names its files by URL")

    def parse_file(self, payload: Any) -> str:
        raise NotImplementedError(f"{self.family} names its files by URL")

    def read_answer(self, response: httpx.Response, call: HttpCall, scrub: Scrubber) -> Any:
        """The JSON of an answer, or raise the mapped :class:`HaoeeError`.

        Non-2xx answers are errors (their body read for a code); a 2xx body that is not
        JSON is a transport error; a 2xx envelope whose code is not success is an error.
        """
        status = response.status_code
        payload, retry_after = read_json(response)
        if status >= 300:
            code, message, request_id = error_fields(payload)
            if message is None:
                snippet = scrub(response.text[:400])[:200] if payload is None else "JSON"
                message = f"{call.label} answered HTTP {status}: {snippet!r}"
            raise classify_error(
                self.errors,
                http_status=status,
                code=code,
                message=scrub(message[:1000])[:500],
                request_id=scrub(request_id) if request_id else None,
                retry_after=retry_after,
                purpose=call.purpose,
            )
        if payload is None:
            snippet = scrub(response.text[:400])[:200]
            raise TransportError(
                f"{call.label} answered HTTP {status} with a body that is not JSON: {snippet!r}",
                http_status=status,
            )
        error = self.business_error(payload, call, status)
        if error is not None:
            error.message = scrub(error.message[:1000])[:500]
            if isinstance(error, RateLimitedError) and retry_after is not None:
                error.retry_after = retry_after
            raise error
        return payload

    def business_error(self, payload: Any, call: HttpCall, http_status: int) -> HaoeeError | None:
        """An error carried by a 2xx answer (an envelope whose ``code`` is not success)."""
        code, message, request_id = error_fields(payload)
        if code is None and message is None:
            return None
        if call.purpose == "poll" and isinstance(payload, dict) and "status" in payload:
            return None  # a job object (its own ``error`` is the job's failure)
        return classify_error(
            self.errors,
            http_status=http_status,
            code=code,
            message=message or "error",
            request_id=request_id,
            purpose=call.purpose,
        )

    def handle_for(self, request: FamilyRequest, job_id: str) -> JobHandle:
        return JobHandle(
            family=self.family,
            kind=self.kind,
            job_id=job_id,
            request_hash=request.request_hash,
            model=request.model_id,
            variant=request.variant,
            seed=request.seed_value,
            submitted_at=datetime.now(timezone.utc),
        )

    def state(self, handle: JobHandle, status: JobStatus, raw: Any, **fields: Any) -> JobState:
        """A running or succeeded state of ``handle`` (``fields``: urls, progress...)."""
        return JobState(
            family=self.family, job_id=handle.job_id, status=status, raw_status=str(raw), **fields
        )

    def failed_state(
        self,
        handle: JobHandle,
        *,
        raw_status: str | None,
        code: Any,
        message: str | None,
        progress: float | None = None,
    ) -> JobState:
        text = message or "job failed"
        return JobState(
            family=self.family,
            job_id=handle.job_id,
            status="failed",
            raw_status=raw_status,
            error=text,
            error_code=code_text(code),
            moderated=self.errors.looks_moderated(code, text),
            progress=progress,
        )
