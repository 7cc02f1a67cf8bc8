"""One family call in flight: its fault decision, billing, links, and job lifecycle.

Billing: one ledger entry per successful sync generation or accepted submit, with the hash
of the body (sha256 of its canonical JSON, delivery-only fields left out), so the ledger's
``duplicates`` counts requests paid twice, whatever the family.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from prefect_haoee.simulator.actions import Call, apply_fault
from prefect_haoee.simulator.codes import SimError
from prefect_haoee.simulator.families.answers import NOT_FOUND
from prefect_haoee.simulator.families.jobs import Job, JobStatus, Output
from prefect_haoee.simulator.families.state import FamilyState
from prefect_haoee.simulator.faults import Fault
from prefect_haoee.simulator.images import RenderSpec
from prefect_haoee.simulator.ledger import LedgerEntry, base64_identity, body_seed

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


@dataclass(kw_only=True)
class FamilyCall(Call):
    """A visual :class:`Call` that also knows its family's run state and name."""

    fam: FamilyState
    family: str

    @property
    def analog(self) -> str:
        return self.fam.actions[self.action]

    async def decide(self) -> Fault | None:
        """One seeded draw; act on a fault that ends the call, return a deferred one."""
        drawn = self.fam.faults.draw(self.action, self.analog)
        return await apply_fault(self, self.forced if self.forced else drawn)

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

    def mint(self, output: Output, *, forced_expired: bool = False) -> str:
        """An expiring link: images on ``/files/{id}``, media on ``/files/media/{id}``."""
        expired = self.state.link_expired(forced_expired)
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

    async def submit_job(
        self,
        body: Mapping[str, Any],
        model: str,
        outputs: Callable[[str], list[Output]],
        *,
        new_id: Callable[[], str] | None = None,
        delivery: Iterable[str] = (),
        variant: str | None = None,
        meta: dict[str, Any] | None = None,
        file_id: bool = False,
    ) -> Job:
        """Accept a checked submit: fault draw, the job (``outputs`` of the body hash; its id
        from ``new_id``, else 18 digits; a ``file_id`` for families that serve results by
        file), billing, API overhead."""
        fault = await self.decide()
        hash_ = body_hash(body, delivery)
        job = self.fam.new_job(
            job_id=new_id() if new_id is not None else self.fam.new_digits(18),
            family=self.family,
            model=model,
            request_hash=hash_,
            outputs=outputs(hash_),
            fault=fault,
            variant=variant,
            meta=meta,
        )
        if file_id:
            job.file_ids.append(self.fam.new_digits(18))
        self.bill(body, model, delivery=delivery, task_id=job.job_id)
        await self.state.api_overhead()
        return job

    async def poll(
        self, job_id: str, variant: str | None = None, *, overhead: bool = True
    ) -> tuple[JobStatus, Job, Fault | None]:
        """A status call: its fault draw, the API overhead, then the job (or a 404)."""
        fault = await self.decide()
        if overhead:
            await self.state.api_overhead()
        status, job = self.fam.jobs.lookup(job_id, self.family, variant)
        if job is None or status == "not_found":
            raise SimError(NOT_FOUND, f"task {job_id!r} not found")
        if status == "expired":
            raise SimError(NOT_FOUND, f"task {job_id!r} expired")
        return status, job, fault
