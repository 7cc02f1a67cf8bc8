"""What the simulated families share: auth, limits, faults, ledger, jobs, files, bodies.

Every family route goes through :func:`endpoint`, which does what the visual ``/volcv/v1``
handler does, in the same order: auth (50400) -> per-key QPS/concurrency caps (50429/
50430) -> a forced ``X-Sim-Fault`` that ends the call -> the family handler (its checks,
moderation words, one seeded fault draw, billing, latency, answer). Errors are SimErrors
(the simulator's code table) rendered in the family's own error shape.

Faults: ``fault_rates`` apply to family calls as to the visual ones, each family action
mapped onto the visual action it behaves like (a sync generation = ``CVProcess``, a submit
= ``CVSync2AsyncSubmitTask``, a poll or file lookup = ``CVSync2AsyncGetResult``), with
its own seeded stream. Exact faults: ``fault_script`` keys ``"<family action>:N"`` (see
:data:`FAMILY_ACTIONS`), from the config or posted to ``/_sim/families/fault_script``.

Billing: one ledger entry per successful sync generation or accepted submit, with the hash
of the body (sha256 of its canonical JSON, delivery-only fields left out), so the ledger's
``duplicates`` counts requests paid twice, whatever the family.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import Response

from prefect_haoee.simulator.actions import Call as VisualCall
from prefect_haoee.simulator.actions import DropRequested, apply_fault
from prefect_haoee.simulator.checks import parse_json_object
from prefect_haoee.simulator.codes import SimError
from prefect_haoee.simulator.config import FAULT_NAMES, REQUEST_FAULTS, SimulatorConfig
from prefect_haoee.simulator.envelope import DropResponse, json_response, new_request_id
from prefect_haoee.simulator.faults import (
    APPLIES,
    CV_PROCESS,
    GET_RESULT,
    SUBMIT,
    Fault,
    parse_forced,
)
from prefect_haoee.simulator.images import RenderSpec
from prefect_haoee.simulator.ledger import LedgerEntry, base64_identity, body_seed
from prefect_haoee.simulator.media import MediaSpec, media_store
from prefect_haoee.simulator.state import SimState

logger = logging.getLogger("prefect_haoee.simulator")

FAULT_HEADER = "x-sim-fault"
SYNC, SUBMIT_LIKE, POLL_LIKE = CV_PROCESS, SUBMIT, GET_RESULT

# Family action -> the visual action it behaves like (for fault eligibility).
FAMILY_ACTIONS: dict[str, str] = {
    "images.generations": SYNC,
    "images.edits": SYNC,
    "images.generations.async": SUBMIT_LIKE,
    "images.edits.async": SUBMIT_LIKE,
    "images.tasks.get": POLL_LIKE,
    "sora.create": SUBMIT_LIKE,
    "sora.get": POLL_LIKE,
    "sora.content": POLL_LIKE,
    "minimax.create": SUBMIT_LIKE,
    "minimax.query": POLL_LIKE,
    "minimax.file": POLL_LIKE,
    "kling.text2video": SUBMIT_LIKE,
    "kling.image2video": SUBMIT_LIKE,
    "kling.query": POLL_LIKE,
    "suno.submit": SUBMIT_LIKE,
    "suno.fetch": POLL_LIKE,
}

TEXT_FIELDS = ("prompt", "negative_prompt", "gpt_description_prompt", "title", "tags")
NOT_FOUND = 50402  # rendered as each family's "task not found" (HTTP 404)
MODERATION_CODES = frozenset(
    {50411, 50412, 50413, 50511, 50512, 50518, 50519, 50520, 50521, 50522, 60102, 60208}
)


def check_script(script: Mapping[str, str]) -> dict[str, str]:
    """Validate ``"<family action>:N" -> fault`` entries (raise ValueError)."""
    out: dict[str, str] = {}
    for where, name in script.items():
        action, sep, number = where.partition(":")
        if not sep or action not in FAMILY_ACTIONS or not number.isdigit() or int(number) < 1:
            known = ", ".join(FAMILY_ACTIONS)
            raise ValueError(f"fault_script key {where!r}: use ACTION:N, ACTION one of {known}")
        try:
            parse_forced(str(name), FAMILY_ACTIONS[action])
        except SimError:
            raise ValueError(f"fault_script {where!r}: unknown fault {name!r}") from None
        out[f"{action}:{int(number)}"] = str(name)
    return out


class FamilyFaultPlan:
    """One seeded stream per family action; same rates and names as the visual plan."""

    def __init__(self, config: SimulatorConfig) -> None:
        self._seed = config.seed
        self._rates = dict(config.fault_rates)
        self._streams: dict[str, random.Random] = {}
        self._task_codes = random.Random(f"{config.seed}/faults/family_task_codes")
        self._fail_codes = config.task_fail_codes or (50501,)
        self._calls: Counter[str] = Counter()
        family_keys = {
            k: v for k, v in config.fault_script.items() if k.partition(":")[0] in FAMILY_ACTIONS
        }
        self.script: dict[str, str] = check_script(family_keys)

    def draw(self, action: str) -> Fault | None:
        analog = FAMILY_ACTIONS[action]
        stream = self._streams.setdefault(action, random.Random(f"{self._seed}/faults/{action}"))
        r = stream.random()
        self._calls[action] += 1
        scripted = self.script.get(f"{action}:{self._calls[action]}")
        if scripted is not None:
            return parse_forced(scripted, analog)
        acc = 0.0
        for name in FAULT_NAMES:
            if name not in REQUEST_FAULTS or analog not in APPLIES[name]:
                continue
            acc += self._rates.get(name, 0.0)
            if r < acc:
                fault = parse_forced(name, analog)
                if fault is not None and fault.kind == "task_fail" and name == "task_fail":
                    fault = Fault("task_fail", self._task_codes.choice(self._fail_codes))
                return fault
        return None


# -- jobs -----------------------------------------------------------------------------------

JobStatus = Literal["queued", "running", "succeeded", "failed", "expired", "not_found"]
Output = MediaSpec | RenderSpec


@dataclass
class Job:
    job_id: str
    family: str
    variant: str | None
    model: str
    request_hash: str
    created: float
    created_wall: float
    queue_s: float
    total_s: float
    outputs: list[Output]
    fail_code: int | None = None
    url_expired: bool = False
    meta: dict[str, Any] = field(default_factory=dict)
    urls: dict[str, list[str]] = field(default_factory=dict)
    """Links minted so far, by base URL (the same links on every poll)."""
    file_ids: list[str] = field(default_factory=list)


class JobStore:
    """Jobs of every family; status worked out from the simulator clock when asked."""

    def __init__(self, state: SimState) -> None:
        self._clock = state.clock
        self._ttl = state.config.task_ttl_s
        self._jobs: dict[str, Job] = {}
        self._adds = 0

    def add(self, job: Job) -> Job:
        self._adds += 1
        if self._adds % 1000 == 0:  # forget jobs past twice their TTL: bounded memory
            for job_id in [k for k, j in self._jobs.items() if self.status_of(j) == "not_found"]:
                del self._jobs[job_id]
        self._jobs[job.job_id] = job
        return job

    def status_of(self, job: Job) -> JobStatus:
        age = self._clock.monotonic() - job.created
        if age > 2 * self._ttl:
            return "not_found"
        if age > self._ttl:
            return "expired"
        if age < job.queue_s:
            return "queued"
        if age < job.total_s:
            return "running"
        return "failed" if job.fail_code is not None else "succeeded"

    def progress(self, job: Job) -> float:
        age = self._clock.monotonic() - job.created
        return 1.0 if job.total_s <= 0 else max(0.0, min(1.0, age / job.total_s))

    def lookup(
        self, job_id: str, family: str, variant: str | None = None
    ) -> tuple[JobStatus, Job | None]:
        job = self._jobs.get(job_id)
        if job is None or job.family != family or (variant is not None and job.variant != variant):
            return "not_found", None
        status = self.status_of(job)
        if status == "not_found":
            del self._jobs[job_id]
            return "not_found", None
        return status, job

    def by_file_id(self, file_id: str) -> Job | None:
        return next((j for j in self._jobs.values() if file_id in j.file_ids), None)

    def counts(self) -> dict[str, int]:
        counts: Counter[str] = Counter(
            f"{j.family}:{self.status_of(j)}" for j in self._jobs.values()
        )
        return dict(sorted(counts.items()))


class FamilyState:
    """The families' part of one simulator run (made anew whenever the run is reset)."""

    def __init__(self, sim: SimState) -> None:
        self.sim = sim
        self.faults = FamilyFaultPlan(sim.config)
        self.jobs = JobStore(sim)
        self.media = media_store(sim.clock, sim.config.url_ttl_s)
        self._ids = random.Random(f"{sim.config.seed}/family_ids")

    def new_hex(self, length: int = 32) -> str:
        return "".join(self._ids.choice("0123456789abcdef") for _ in range(length))

    def new_digits(self, length: int = 18) -> str:
        return str(self._ids.randrange(10 ** (length - 1), 10**length))

    def new_uuid(self) -> str:
        h = self.new_hex(32)
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"

    def new_job(
        self,
        *,
        job_id: str,
        family: str,
        model: str,
        request_hash: str,
        outputs: list[Output],
        fault: Fault | None,
        variant: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> Job:
        cfg = self.sim.config
        latency = self.sim.sample_latency(cfg.task_latency_ms)
        fail_code = fault.code if fault is not None and fault.kind == "task_fail" else None
        return self.jobs.add(
            Job(
                job_id=job_id,
                family=family,
                variant=variant,
                model=model,
                request_hash=request_hash,
                created=self.sim.clock.monotonic(),
                created_wall=self.sim.clock.wall(),
                queue_s=latency * cfg.queue_fraction,
                total_s=latency,
                outputs=outputs,
                fail_code=fail_code,
                url_expired=fault is not None and fault.kind == "expired_url",
                meta=dict(meta or {}),
            )
        )


class FamilyBox:
    """The current :class:`FamilyState`, renewed when ``/_sim/reset`` replaces the run."""

    def __init__(self, holder: dict[str, SimState]) -> None:
        self._holder = holder
        self._current: FamilyState | None = None

    def get(self) -> FamilyState:
        sim = self._holder["state"]
        if self._current is None or self._current.sim is not sim:
            self._current = FamilyState(sim)
        return self._current


# -- the call context -----------------------------------------------------------------------


FAMILY_IMAGE_FIELDS = frozenset(
    {"image", "mask", "input_reference", "first_frame_image", "image_tail"}
)


def _inline_identity(value: Any) -> Any:
    """An image as the client hashes it: a URL as is, inline data by its bytes' sha256."""
    if not isinstance(value, str) or value.startswith(("http://", "https://")):
        return value
    if value.startswith("data:"):
        value = value.partition(",")[2]
    return base64_identity(value)


def body_hash(body: Mapping[str, Any], delivery: Iterable[str] = ()) -> str:
    """sha256 of the body's canonical JSON (sorted keys, compact, delivery fields out)."""
    skip = set(delivery)
    data = {k: v for k, v in body.items() if k not in skip}
    for name in FAMILY_IMAGE_FIELDS & data.keys():  # inline images count by content
        value = data[name]
        data[name] = (
            [_inline_identity(v) for v in value]
            if isinstance(value, list)
            else _inline_identity(value)
        )
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class FamilyCall:
    state: SimState
    fam: FamilyState
    action: str
    base_url: str
    request_id: str
    started: float
    forced: Fault | None = None
    code: int = 10000

    @property
    def analog(self) -> str:
        return FAMILY_ACTIONS[self.action]

    def _visual(self) -> VisualCall:
        return VisualCall(self.state, self.analog, self.base_url, self.request_id, self.started)

    async def decide(self) -> Fault | None:
        """One seeded draw; act on a fault that ends the call, return a deferred one."""
        drawn = self.fam.faults.draw(self.action)
        return await apply_fault(self._visual(), self.forced if self.forced else drawn)

    def bill(
        self,
        body: Mapping[str, Any],
        model: str,
        *,
        delivery: Iterable[str] = (),
        task_id: str | None = None,
    ) -> str:
        hash_ = body_hash(body, delivery)
        self.state.ledger.bill(
            LedgerEntry(
                hash=hash_,
                req_key=model,
                action=self.action,
                seed=body_seed(dict(body)),
                time=self.state.clock.wall(),
                request_id=self.request_id,
                task_id=task_id,
            )
        )
        return hash_

    async def sync_latency(self) -> None:
        latency = self.state.sample_latency(self.state.config.latency_ms)
        if latency > 0:
            await asyncio.sleep(latency)

    async def api_overhead(self) -> None:
        if self.state.config.api_overhead_ms > 0:
            await asyncio.sleep(self.state.config.api_overhead_ms / 1000)

    def _expired(self, forced: bool) -> bool:
        expired = self.state.faults.url_expired()
        if expired:
            self.state.faults.note(Fault("expired_url"))
        return expired or forced

    def mint(self, output: Output, *, forced_expired: bool = False) -> str:
        """An expiring link: images on ``/files/{id}``, media on ``/files/media/{id}``."""
        expired = self._expired(forced_expired)
        if isinstance(output, RenderSpec):
            return self.state.files.mint(output, self.base_url, expired=expired)
        return self.fam.media.mint(output, self.base_url, expired=expired)

    def job_urls(self, job: Job, fault: Fault | None = None) -> list[str]:
        """The job's links for this base URL (minted once, then the same on every poll)."""
        urls = job.urls.get(self.base_url)
        if urls is None:
            forced = job.url_expired or (fault is not None and fault.kind == "expired_url")
            urls = [self.mint(o, forced_expired=forced) for o in job.outputs]
            job.urls[self.base_url] = urls
        return urls

    def now(self) -> int:
        return int(self.state.clock.wall())


# -- bodies ---------------------------------------------------------------------------------


async def read_raw(request: Request, state: SimState) -> bytes:
    max_bytes = int(state.config.max_body_mb * 1024 * 1024)
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > max_bytes:
        raise SimError(50213, f"body larger than {max_bytes} bytes")
    raw = await request.body()
    if len(raw) > max_bytes:
        raise SimError(50213, f"body larger than {max_bytes} bytes")
    return raw


async def read_json(request: Request, state: SimState) -> dict[str, Any]:
    return parse_json_object(await read_raw(request, state))


@dataclass
class Form:
    fields: dict[str, str]
    files: list[tuple[str, bytes]]
    """(field name, bytes) in order."""


async def read_form(request: Request, state: SimState) -> Form:
    """A ``multipart/form-data`` body (parsed with the standard library)."""
    raw = await read_raw(request, state)
    ctype = request.headers.get("content-type", "")
    if not ctype.lower().startswith("multipart/form-data"):
        raise SimError(50200, "expected a multipart/form-data body")
    message = BytesParser(policy=policy.HTTP).parsebytes(
        b"Content-Type: " + ctype.encode("latin-1") + b"\r\n\r\n" + raw
    )
    if not message.is_multipart():
        raise SimError(50200, "malformed multipart body")
    form = Form({}, [])
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if not isinstance(name, str) or not isinstance(payload, bytes):
            raise SimError(50200, "malformed multipart part")
        if part.get_filename() is not None:
            form.files.append((name, payload))
        else:
            form.fields[name] = payload.decode("utf-8", "replace")
    return form


def check_words(texts: Iterable[Any], words: Mapping[str, int]) -> None:
    """Refuse a body whose text holds a configured moderation word (its code)."""
    lowered = [t.lower() for t in texts if isinstance(t, str)]
    for word, code in words.items():
        if any(word.lower() in t for t in lowered):
            raise SimError(code)


def body_texts(body: Mapping[str, Any], extra: Iterable[str] = ()) -> list[Any]:
    texts: list[Any] = [body.get(n) for n in (*TEXT_FIELDS, *extra)]
    for value in body.values():
        if isinstance(value, list):
            texts.extend(v for v in value if isinstance(v, str) and v.startswith("http"))
        elif isinstance(value, str) and value.startswith("http"):
            texts.append(value)
    return texts


def require_str(body: Mapping[str, Any], name: str, *, optional: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if optional:
            return None
        raise SimError(50201, f"{name} is required")
    if not isinstance(value, str) or not value.strip():
        raise SimError(50204, f"{name} must be a non-empty string")
    return value


def require_choice(
    body: Mapping[str, Any], name: str, choices: Iterable[Any], default: Any = None
) -> Any:
    value = body.get(name, default)
    allowed = list(choices)
    if value not in allowed:
        raise SimError(50200, f"{name} must be one of {allowed}, got {value!r}")
    return value


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# -- routes ---------------------------------------------------------------------------------

ErrorBody = Callable[[SimError, str], dict[str, Any]]
Handler = Callable[[FamilyCall, Request], Awaitable[Response]]


def failure_message(code: int) -> str:
    """A failed job's reason, as a gateway would word it."""
    if code in MODERATION_CODES:
        return f"output moderation: content policy violation (risk not pass, {code})"
    return f"generation failed upstream ({code})"


def _auth(request: Request, keys: tuple[str, ...]) -> str:
    header = request.headers.get("authorization", "").strip()
    token = header[7:].strip() if header[:7].lower() == "bearer " else header
    if not keys:
        return token or "anonymous"
    if not token:
        raise SimError(50400, "missing Authorization header")
    for key in keys:
        if secrets.compare_digest(token.encode(), key.encode()):
            return key
    raise SimError(50400, "invalid API key")


def base_url_of(request: Request) -> str:
    base = str(request.base_url)
    return base if base.endswith("/") else base + "/"


def error_response(err: SimError, request_id: str, render: ErrorBody) -> Response:
    headers = {"Retry-After": str(err.retry_after)} if err.retry_after is not None else None
    status = 404 if err.code == NOT_FOUND else err.http_status
    return json_response(render(err, request_id), status, headers)


def endpoint(
    box: FamilyBox,
    action: str | Callable[[Request], str],
    handler: Handler,
    render: ErrorBody,
) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette endpoint running ``handler`` with auth, limits, faults and counters."""

    async def run(request: Request) -> Response:
        fam = box.get()
        state = fam.sim
        name = action(request) if callable(action) else action
        request_id = new_request_id()
        call = FamilyCall(state, fam, name, base_url_of(request), request_id, time.perf_counter())
        key: str | None = None
        try:
            key = _auth(request, state.config.api_keys)
            state.limiter.enter(key)
        except SimError as err:
            state.ledger.record_call(name, err.code)
            return error_response(err, request_id, render)
        try:
            forced = request.headers.get(FAULT_HEADER)
            if forced:
                call.forced = parse_forced(forced, call.analog)
                if call.forced is not None and call.forced.kind in ("error", "drop", "slow"):
                    await apply_fault(call._visual(), call.forced)
            response = await handler(call, request)
        except SimError as err:
            state.ledger.record_call(name, err.code)
            return error_response(err, request_id, render)
        except DropRequested:
            state.ledger.record_call(name, "drop")
            return DropResponse()
        except Exception:
            logger.exception("simulator error on %s", name)
            state.ledger.record_call(name, 50500)
            return error_response(SimError(50500, "simulator error"), request_id, render)
        finally:
            state.limiter.leave(key)
        state.ledger.record_call(name, call.code)
        return response

    return run


@dataclass(frozen=True)
class FamilyRoute:
    path: str
    methods: tuple[str, ...]
    endpoint: Callable[[Request], Awaitable[Response]]


# -- answer pieces shared by the gateway-style task families -----------------------------

GATEWAY_CODES: dict[int, str] = {
    50429: "rate_limit",
    50430: "rate_limit",
    50500: "server_error",
    50501: "server_error",
    50400: "invalid_api_key",
    NOT_FOUND: "task_not_exist",
    50213: "request_too_large",
}


def gateway_error(err: SimError, request_id: str) -> dict[str, Any]:
    """The gateway's task-relay error: ``{code: "<text>", message, data: null}``."""
    code = GATEWAY_CODES.get(err.code)
    if code is None:
        code = "sensitive" if err.code in MODERATION_CODES else "invalid_request"
    return {"code": code, "message": err.message, "data": None}


OPENAI_CODES: dict[int, str] = {
    50429: "rate_limit_exceeded",
    50430: "concurrency_limit_exceeded",
    50500: "server_error",
    50501: "server_error",
    50400: "invalid_api_key",
    NOT_FOUND: "task_not_found",
    50213: "request_too_large",
}


def openai_error(err: SimError, request_id: str) -> dict[str, Any]:
    """OpenAI's error body: ``{"error": {message, type, param, code}}``."""
    code = OPENAI_CODES.get(err.code)
    if code is None:
        code = "content_policy_violation" if err.code in MODERATION_CODES else "invalid_value"
    status = err.http_status
    kind = (
        "rate_limit_error"
        if status == 429
        else "authentication_error"
        if status == 401
        else "server_error"
        if status >= 500
        else "invalid_request_error"
    )
    return {"error": {"message": err.message, "type": kind, "param": None, "code": code}}


def task_times(call: FamilyCall, job: Job, status: JobStatus) -> dict[str, int]:
    submit = int(job.created_wall)
    start = int(job.created_wall + job.queue_s) if status != "queued" else 0
    finish = int(job.created_wall + job.total_s) if status in ("succeeded", "failed") else 0
    return {"submit_time": submit, "start_time": start, "finish_time": finish}


def percent(value: float) -> str:
    return f"{int(value * 100)}%"


def job_or_404(
    call: FamilyCall, job_id: str, family: str, variant: str | None = None
) -> tuple[JobStatus, Job]:
    status, job = call.fam.jobs.lookup(job_id, family, variant)
    if job is None or status == "not_found":
        raise SimError(NOT_FOUND, f"task {job_id!r} not found")
    if status == "expired":
        raise SimError(NOT_FOUND, f"task {job_id!r} expired")
    return status, job
