"""The families' part of one simulator run: faults, jobs, media links and seeded ids."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from prefect_haoee.simulator.families.faults import family_fault_draws
from prefect_haoee.simulator.families.jobs import Job, JobStore, Output
from prefect_haoee.simulator.faults import Fault
from prefect_haoee.simulator.media import media_store
from prefect_haoee.simulator.state import SimState


class FamilyState:
    """Made anew whenever the run is reset; ``actions`` maps family actions to analogs."""

    def __init__(self, sim: SimState, actions: Mapping[str, str]) -> None:
        self.sim = sim
        self.actions = actions
        self.faults = family_fault_draws(sim.config, actions)
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

    def __init__(self, holder: dict[str, SimState], actions: Mapping[str, str]) -> None:
        self._holder = holder
        self._actions = actions
        self._current: FamilyState | None = None

    def get(self) -> FamilyState:
        sim = self._holder["state"]
        if self._current is None or self._current.sim is not sim:
            self._current = FamilyState(sim, self._actions)
        return self._current
