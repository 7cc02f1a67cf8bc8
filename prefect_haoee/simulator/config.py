"""Everything a simulator run can be tuned with (one pydantic model)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Canonical fault names. Aliases accepted in ``fault_rates`` and ``X-Sim-Fault``:
# "429" -> "50429", "430" -> "50430", "500" -> "50500".
FAULT_NAMES: tuple[str, ...] = (
    "50429",  # QPS limit answer (HTTP 429 + Retry-After)
    "50430",  # concurrency limit answer (HTTP 429 + Retry-After)
    "50500",  # Internal Error (HTTP 500)
    "50501",  # Internal RPC Error (HTTP 500); rejects a CVProcess or a submit
    "drop",  # the connection is cut mid-response: the client sees a transport error
    "slow",  # the answer (a 50500) comes only after slow_response_s
    "50511",  # output moderation on CVProcess (HTTP 400, retryable with a new seed)
    "task_fail",  # an accepted (billed) async task ends `done` with a failure code
    "expired_url",  # a result URL answers "expired" at once
)
FAULT_ALIASES: dict[str, str] = {"429": "50429", "430": "50430", "500": "50500"}

# Faults decided per request (their rates for one action must sum to at most 1).
REQUEST_FAULTS: frozenset[str] = frozenset(FAULT_NAMES) - {"expired_url"}


def normalize_fault_name(name: str) -> str:
    key = name.strip().lower()
    return FAULT_ALIASES.get(key, key)


class SimulatorConfig(BaseModel):
    """Knobs of the gateway simulator.

    Latencies follow a lognormal distribution around a median (``latency_sigma`` = 0 makes
    them exact). All random choices (faults, latencies, the seeds used for ``seed: -1``,
    task ids) come from ``random.Random`` streams derived from ``seed``, so the same run
    against the same seed gives the same outcomes.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_keys: tuple[str, ...] = ("haoee-sim-key",)
    """Keys accepted on ``/volcv/v1`` (``Bearer <key>`` or the raw key). Empty: no auth."""

    latency_ms: float = Field(default=800.0, ge=0)
    """Median time a CVProcess call takes before it answers."""
    async_latency_ms: float | None = Field(default=None, ge=0)
    """Median time an async task takes from submit to ``done`` (default: ``latency_ms``)."""
    latency_sigma: float = Field(default=0.35, ge=0, le=3)
    """Shape of the lognormal latency (0 = always exactly the median)."""
    max_latency_ms: float = Field(default=120_000.0, ge=0)
    queue_fraction: float = Field(default=0.3, ge=0, le=1)
    """Share of an async task's latency spent ``in_queue`` before ``generating``."""
    api_overhead_ms: float = Field(default=0.0, ge=0)
    """Fixed time Submit and GetResult take."""

    qps: int | None = Field(default=None, ge=1)
    """Per-key cap on admitted calls in any sliding 1 s window (None: no cap)."""
    concurrency: int | None = Field(default=None, ge=1)
    """Per-key cap on calls in flight at once (None: no cap)."""

    fault_rates: dict[str, float] = Field(default_factory=dict)
    """Fault name (see FAULT_NAMES, aliases allowed) -> probability per eligible request."""
    fault_script: dict[str, str] = Field(default_factory=dict)
    """Exact faults: ``"ACTION:N" -> fault name`` makes the N-th call (1-based) of ACTION
    (CVProcess, CVSync2AsyncSubmitTask, CVSync2AsyncGetResult) fail with that fault, e.g.
    ``{"CVProcess:1": "429", "CVProcess:3": "50511"}`` (the demo's "one of each")."""
    task_fail_codes: tuple[int, ...] = (50501, 50511)
    """Codes a randomly failed async task ends with (picked by the seeded stream)."""
    moderation_words: dict[str, int] = Field(
        default_factory=lambda: {
            "blocked-image": 50411,
            "blocked-text": 50412,
            "copyright-word": 50413,
        }
    )
    """Word -> code: a prompt (or image URL) containing the word is refused with the code."""
    seed: int = 0

    url_ttl_s: float = Field(default=24 * 3600.0, gt=0)
    task_ttl_s: float = Field(default=12 * 3600.0, gt=0)
    """Tasks older than this answer ``expired``; older than twice this, ``not_found``."""
    slow_response_s: float = Field(default=30.0, ge=0)

    image_format: Literal["png", "jpeg"] = "png"
    image_cache_mb: int = Field(default=256, ge=0)
    max_body_mb: float = Field(default=32.0, gt=0)
    strict_modes: bool = True
    """Refuse CVProcess for async-only models and Submit for sync-only ones (50200)."""

    @field_validator("fault_rates")
    @classmethod
    def _check_rates(cls, value: dict[str, float]) -> dict[str, float]:
        out: dict[str, float] = {}
        for raw, rate in value.items():
            name = normalize_fault_name(raw)
            if name not in FAULT_NAMES:
                known = ", ".join(FAULT_NAMES)
                raise ValueError(f"unknown fault {raw!r}; known: {known} (aliases 429, 430, 500)")
            if not 0.0 <= float(rate) <= 1.0:
                raise ValueError(f"fault rate for {raw!r} must be within [0, 1], got {rate}")
            out[name] = out.get(name, 0.0) + float(rate)
        total = sum(r for n, r in out.items() if n in REQUEST_FAULTS)
        if total > 1.0 + 1e-9:
            raise ValueError(f"per-request fault rates sum to {total:.3f} > 1")
        return out

    @field_validator("fault_script")
    @classmethod
    def _check_script(cls, value: dict[str, str]) -> dict[str, str]:
        actions = ("CVProcess", "CVSync2AsyncSubmitTask", "CVSync2AsyncGetResult")
        out: dict[str, str] = {}
        for where, raw in value.items():
            action, sep, number = where.partition(":")
            if not sep or action not in actions or not number.isdigit() or int(number) < 1:
                raise ValueError(f"fault_script key {where!r}: use ACTION:N with N >= 1")
            name = normalize_fault_name(raw)
            if name not in FAULT_NAMES or name == "expired_url":
                raise ValueError(f"fault_script {where!r}: unknown fault {raw!r}")
            out[f"{action}:{int(number)}"] = name
        return out

    @field_validator("moderation_words")
    @classmethod
    def _check_words(cls, value: dict[str, int]) -> dict[str, int]:
        for word in value:
            if not word:
                raise ValueError("moderation words must not be empty")
        return value

    @model_validator(mode="after")
    def _check_latency(self) -> SimulatorConfig:
        if self.latency_ms > self.max_latency_ms:
            raise ValueError("latency_ms exceeds max_latency_ms")
        return self

    @property
    def task_latency_ms(self) -> float:
        return self.latency_ms if self.async_latency_ms is None else self.async_latency_ms

    @property
    def primary_key(self) -> str | None:
        return self.api_keys[0] if self.api_keys else None

    def public_dict(self) -> dict[str, object]:
        """The config as JSON-able data, keys redacted."""
        data = self.model_dump(mode="json")
        data["api_keys"] = [f"{k[:3]}…" for k in self.api_keys]
        return data


def parse_fault_rates(spec: str) -> dict[str, float]:
    """Parse ``"429=0.1,500=0.05"`` (the CLI form) into a rate mapping."""
    rates: dict[str, float] = {}
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        name, sep, rate = part.partition("=")
        if not sep:
            raise ValueError(f"expected NAME=RATE, got {part!r}")
        try:
            rates[name.strip()] = float(rate)
        except ValueError:
            raise ValueError(f"rate for {name.strip()!r} is not a number: {rate!r}") from None
    return rates
