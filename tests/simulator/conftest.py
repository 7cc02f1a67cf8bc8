"""Fixtures: one simulator served by uvicorn on 127.0.0.1 (port 0) for the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from prefect_haoee.simulator import SimulatorHandle, run_simulator
from tests.simulator.support import BASE_CONFIG, Gateway, sim_config


@pytest.fixture(scope="session")
def sim() -> Iterator[SimulatorHandle]:
    with run_simulator(sim_config()) as handle:
        yield handle


@pytest.fixture(scope="session")
def _http(sim: SimulatorHandle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.base_url, timeout=10.0) as client:
        yield client


@pytest.fixture()
def gw(sim: SimulatorHandle, _http: httpx.Client) -> Gateway:
    """The shared simulator, reset (ledger, tasks, files, clock, seeded streams)."""
    sim.reset(seed=BASE_CONFIG["seed"])
    return Gateway(sim, _http)
