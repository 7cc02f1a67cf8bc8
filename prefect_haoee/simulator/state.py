"""One simulator run's state: every store, the seeded streams, and the stats view."""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Mapping
from typing import Any

from prefect_haoee.client.catalog import ModelSpec
from prefect_haoee.simulator.clock import SimClock
from prefect_haoee.simulator.config import SimulatorConfig
from prefect_haoee.simulator.faults import Fault, FaultPlan
from prefect_haoee.simulator.files import FileStore
from prefect_haoee.simulator.images import ImageCache, RenderSpec, output_size
from prefect_haoee.simulator.ledger import Ledger, body_seed
from prefect_haoee.simulator.limits import Limiter
from prefect_haoee.simulator.tasks import TaskStore


class SimState:
    def __init__(
        self,
        config: SimulatorConfig,
        catalog: Mapping[str, ModelSpec],
        clock: SimClock | None = None,
    ) -> None:
        self.config = config
        self.catalog = catalog
        self.clock = clock or SimClock()
        self.started = time.monotonic()
        seed = config.seed
        self.faults = FaultPlan(config)
        self.limiter = Limiter(self.clock, qps=config.qps, concurrency=config.concurrency)
        self.ledger = Ledger()
        self.tasks = TaskStore(self.clock, task_ttl_s=config.task_ttl_s, seed=seed)
        self.files: FileStore[RenderSpec] = FileStore(self.clock, config.url_ttl_s)
        self.images = ImageCache(config.image_cache_mb * 1024 * 1024)
        self._latency = random.Random(f"{seed}/latency")
        self._seeds = random.Random(f"{seed}/seeds")
        self._log_sigma = config.latency_sigma

    def sample_latency(self, median_ms: float) -> float:
        """Seconds: lognormal around ``median_ms`` (one draw per call, even when 0)."""
        z = self._latency.gauss(0.0, 1.0)
        if median_ms <= 0:
            return 0.0
        value = median_ms * math.exp(self._log_sigma * z)
        return min(value, self.config.max_latency_ms) / 1000.0

    def link_expired(self, forced: bool = False) -> bool:
        """Whether a newly minted result link answers expired (a seeded draw, or forced)."""
        drawn = self.faults.url_expired()
        if drawn:
            self.faults.note(Fault("expired_url"))
        return drawn or forced

    async def api_overhead(self) -> None:
        """The gateway's own time on a call that renders nothing (a submit, a poll)."""
        if self.config.api_overhead_ms > 0:
            await asyncio.sleep(self.config.api_overhead_ms / 1000)

    def render_spec(
        self,
        body: dict[str, Any],
        spec: ModelSpec,
        request_hash: str,
        tint: tuple[int, int, int] | None = None,
    ) -> RenderSpec:
        """The image a billed generation produces; ``seed: -1`` draws a seed; ``tint`` is
        the first input image's mean colour."""
        content_key = request_hash
        if body_seed(body) == -1:
            content_key = f"{request_hash}/{self._seeds.randrange(2**31)}"
        width, height = output_size(body, spec)
        return RenderSpec(content_key, width, height, self.config.image_format, tint)

    def stats(self) -> dict[str, Any]:
        out = self.ledger.stats()
        out.update(
            {
                "concurrency_current": self.limiter.current,
                "concurrency_peak": self.limiter.peak_concurrency,
                "peak_qps": self.limiter.peak_qps,
                "tasks_by_status": self.tasks.counts(),
                "faults_injected": dict(self.faults.injected),
                "files_served": self.files.served,
                "files_expired_hits": self.files.expired_hits,
                "images_rendered": self.images.renders,
                "image_cache_hits": self.images.hits,
                "clock_offset_s": self.clock.offset,
                "uptime_s": round(time.monotonic() - self.started, 3),
                "process_cpu_s": round(time.process_time(), 3),
                "seed": self.config.seed,
            }
        )
        return out
