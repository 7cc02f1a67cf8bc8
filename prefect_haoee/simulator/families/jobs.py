"""The families' jobs: what each accepted submit will produce, and when.

No background work, as for the visual tasks: a job's status is worked out from the
simulator clock when asked (see :mod:`prefect_haoee.simulator.lifecycle`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from prefect_haoee.simulator.images import RenderSpec
from prefect_haoee.simulator.lifecycle import AgingStore, Phase
from prefect_haoee.simulator.media import MediaSpec
from prefect_haoee.simulator.state import SimState

JobStatus = Literal["queued", "running", "succeeded", "failed", "expired", "not_found"]
Output = MediaSpec | RenderSpec


def one_video(seconds: float) -> Callable[[str], list[Output]]:
    """A video job's outputs: one MP4 of ``seconds``, its content keyed by the body hash."""
    return lambda hash_: [MediaSpec(hash_, "mp4", seconds)]


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


class JobStore(AgingStore[Job]):
    """Jobs of every family; status worked out from the simulator clock when asked."""

    def __init__(self, state: SimState) -> None:
        super().__init__(state.clock, state.config.task_ttl_s)

    def add(self, job: Job) -> Job:
        return self._put(job.job_id, job)

    def status_of(self, job: Job) -> JobStatus:
        return self._status(job, self.phase(job))

    @staticmethod
    def _status(job: Job, phase: Phase) -> JobStatus:
        if phase == "finished":
            return "failed" if job.fail_code is not None else "succeeded"
        return phase

    def progress(self, job: Job) -> float:
        age = self._clock.monotonic() - job.created
        return 1.0 if job.total_s <= 0 else max(0.0, min(1.0, age / job.total_s))

    def lookup(
        self, job_id: str, family: str, variant: str | None = None
    ) -> tuple[JobStatus, Job | None]:
        phase, job = self._find(
            job_id, lambda j: j.family == family and (variant is None or j.variant == variant)
        )
        return ("not_found", None) if job is None else (self._status(job, phase), job)

    def by_file_id(self, file_id: str) -> Job | None:
        return next((j for j in self if file_id in j.file_ids), None)

    def counts(self) -> dict[str, int]:
        counts: Counter[str] = Counter(f"{j.family}:{self.status_of(j)}" for j in self)
        return dict(sorted(counts.items()))
