"""Seeded fault decisions and the ``X-Sim-Fault`` header.

Each action draws from its own ``random.Random`` stream (seeded from the config seed and
the action name), exactly one number per eligible request, so the sequence of outcomes
of, say, CVProcess calls does not depend on how often a client polls GetResult.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from prefect_haoee.simulator.codes import CODES, SimError
from prefect_haoee.simulator.config import (
    FAULT_NAMES,
    REQUEST_FAULTS,
    SimulatorConfig,
    normalize_fault_name,
)

CV_PROCESS = "CVProcess"
SUBMIT = "CVSync2AsyncSubmitTask"
GET_RESULT = "CVSync2AsyncGetResult"
ACTIONS: tuple[str, ...] = (CV_PROCESS, SUBMIT, GET_RESULT)

_ALL = frozenset(ACTIONS)
APPLIES: dict[str, frozenset[str]] = {
    "50429": _ALL,
    "50430": _ALL,
    "50500": _ALL,
    "drop": _ALL,
    "slow": _ALL,
    "50501": frozenset({CV_PROCESS, SUBMIT}),
    "50511": frozenset({CV_PROCESS}),
    "task_fail": frozenset({SUBMIT}),
}

FaultKind = Literal["error", "drop", "slow", "task_fail", "expired_url"]


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    code: int | None = None

    @property
    def label(self) -> str:
        return str(self.code) if self.kind == "error" else self.kind


class SimulatedDrop(Exception):
    """Raised mid-response so that uvicorn cuts the connection."""


class _DropFilter(logging.Filter):
    """Keep uvicorn from logging a traceback for each simulated drop."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, SimulatedDrop)


def install_drop_log_filter() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _DropFilter) for f in logger.filters):
        logger.addFilter(_DropFilter())


def _fault_for(name: str, action: str) -> Fault | None:
    """What fault ``name`` means on ``action`` (None: it does not apply there)."""
    if name in ("drop", "slow", "expired_url"):
        return Fault(name)  # type: ignore[arg-type]
    if name == "task_fail":
        if action == SUBMIT:
            return Fault("task_fail", 50501)
        return Fault("error", 50501) if action == CV_PROCESS else None
    code = int(name)
    if action == SUBMIT and code in (50511, 50519):
        # Output moderation of an async task is found after it was accepted (and billed).
        return Fault("task_fail", code)
    return Fault("error", code)


def parse_forced(value: str, action: str) -> Fault | None:
    """Turn an ``X-Sim-Fault`` header into a fault for this action.

    Accepts a fault name (``drop``, ``slow``, ``task_fail``, ``expired_url``), an alias
    (``429``, ``430``, ``500``) or any code of the simulator's table (``50413``...).
    """
    name = normalize_fault_name(value)
    if name in FAULT_NAMES:
        return _fault_for(name, action)
    if name.isdigit() and int(name) in CODES and int(name) != 10000:
        return _fault_for(name, action)
    raise SimError(50200, f"unknown X-Sim-Fault {value!r}")


class FaultDraws:
    """Seeded fault draws: one stream per action, the script by call number, then the rates.

    ``analog`` is the visual action whose eligible faults apply (a family action draws
    from its own stream but behaves like its visual analog).
    """

    def __init__(self, config: SimulatorConfig, script: Mapping[str, str], codes: str) -> None:
        self._seed = config.seed
        self._rates = dict(config.fault_rates)
        self._streams: dict[str, random.Random] = {}
        self._task_codes = random.Random(f"{config.seed}/faults/{codes}")
        self._fail_codes = config.task_fail_codes or (50501,)
        self._calls: Counter[str] = Counter()
        self.script: dict[str, str] = dict(script)

    def draw(self, action: str, analog: str) -> Fault | None:
        """One seeded draw for one eligible request of ``action``."""
        stream = self._streams.get(action)
        if stream is None:
            stream = self._streams[action] = random.Random(f"{self._seed}/faults/{action}")
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
                fault = _fault_for(name, analog)
                if fault is not None and fault.kind == "task_fail":
                    fault = Fault("task_fail", self._task_codes.choice(self._fail_codes))
                return fault
        return None


class FaultPlan:
    """The visual actions' draws, the result-link draws and the count of injected faults."""

    def __init__(self, config: SimulatorConfig) -> None:
        self._draws = FaultDraws(config, config.fault_script, "task_codes")
        self._files = random.Random(f"{config.seed}/faults/files")
        self._rates = dict(config.fault_rates)
        self.injected: Counter[str] = Counter()

    def draw(self, action: str) -> Fault | None:
        """One seeded draw for one eligible request of ``action``."""
        return self._draws.draw(action, action)

    def url_expired(self) -> bool:
        """Whether a newly minted result URL answers ``expired`` at once."""
        return self._files.random() < self._rates.get("expired_url", 0.0)

    def note(self, fault: Fault) -> None:
        self.injected[fault.label] += 1
