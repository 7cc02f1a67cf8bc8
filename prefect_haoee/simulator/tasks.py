"""Async tasks (CVSync2AsyncSubmitTask / CVSync2AsyncGetResult) and their lifecycle.

No background work: a task's status is worked out from the simulator clock whenever it
is polled. ``in_queue`` for the first ``queue_fraction`` of its latency, ``generating``
for the rest, then ``done`` (success, or failure told by the envelope's code). Older
than ``task_ttl_s`` it answers ``expired``; older than twice that it is forgotten
(``not_found``).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from prefect_haoee.simulator.clock import SimClock
from prefect_haoee.simulator.images import RenderSpec
from prefect_haoee.simulator.lifecycle import AgingStore, Phase

TaskStatus = Literal["in_queue", "generating", "done", "not_found", "expired"]
_STATUS: dict[Phase, TaskStatus] = {
    "queued": "in_queue",
    "running": "generating",
    "finished": "done",
    "not_found": "not_found",
    "expired": "expired",
}


@dataclass
class Task:
    task_id: str
    req_key: str
    request_hash: str
    render: RenderSpec
    created: float
    queue_s: float
    total_s: float
    fail_code: int | None = None
    url_expired: bool = False
    """Forced ``expired_url`` at submit: the result link answers expired."""
    urls: dict[str, str] = field(default_factory=dict)
    """Result URLs minted so far, by base URL (the same link on every poll)."""


class TaskStore(AgingStore[Task]):
    def __init__(self, clock: SimClock, *, task_ttl_s: float, seed: int) -> None:
        super().__init__(clock, task_ttl_s)
        self._ids = random.Random(f"{seed}/task_ids")

    def _new_id(self) -> str:
        while True:
            task_id = str(self._ids.randrange(10**18, 10**19))  # 19 digits, like upstream
            if task_id not in self:
                return task_id

    def create(
        self,
        *,
        req_key: str,
        request_hash: str,
        render: RenderSpec,
        latency_s: float,
        queue_fraction: float,
        fail_code: int | None,
        url_expired: bool = False,
    ) -> Task:
        task = Task(
            task_id=self._new_id(),
            req_key=req_key,
            request_hash=request_hash,
            render=render,
            created=self._clock.monotonic(),
            queue_s=latency_s * queue_fraction,
            total_s=latency_s,
            fail_code=fail_code,
            url_expired=url_expired,
        )
        return self._put(task.task_id, task)

    def status_of(self, task: Task) -> TaskStatus:
        return _STATUS[self.phase(task)]

    def lookup(self, req_key: str, task_id: str) -> tuple[TaskStatus, Task | None]:
        """The task (only under the ``req_key`` it was submitted with) and its status."""
        phase, task = self._find(task_id, lambda t: t.req_key == req_key)
        return _STATUS[phase], task

    def counts(self) -> dict[str, int]:
        """Tasks by status (``failed`` counts the ``done`` ones that ended with an error)."""
        counts: Counter[str] = Counter()
        for task in self:
            status = self.status_of(task)
            counts[status] += 1
            if status == "done" and task.fail_code is not None:
                counts["failed"] += 1
        keys = ("in_queue", "generating", "done", "failed", "expired")
        return {s: counts.get(s, 0) for s in keys}
