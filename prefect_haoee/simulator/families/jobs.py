"""The families' jobs: what each accepted submit will produce, and when.

No background work, as for the visual tasks: a job's status is worked out from the
simulator clock when asked (see :func:`prefect_haoee.simulator.tasks.phase_of`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from prefect_haoee.simulator.images import RenderSpec
from prefect_haoee.simulator.media import MediaSpec
from prefect_haoee.simulator.state import SimState
from prefect_haoee.simulator.tasks import phase_of

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
        phase = phase_of(age, ttl=self._ttl, queue_s=job.queue_s, total_s=job.total_s)
        if phase == "finished":
            return "failed" if job.fail_code is not None else "succeeded"
        return phase

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
