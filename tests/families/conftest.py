"""Fixtures: one family-test simulator on 127.0.0.1 (port 0) for the session, reset per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from prefect_haoee.simulator import SimulatorHandle, run_simulator
from tests.families.support import FAM_CONFIG, fam_config


@pytest.fixture(scope="session")
def fam_sim_session() -> Iterator[SimulatorHandle]:
    with run_simulator(fam_config()) as handle:
        yield handle


@pytest.fixture()
def fsim(fam_sim_session: SimulatorHandle) -> SimulatorHandle:
    """The shared family simulator, reset (ledger, jobs, files, clock, fault script)."""
    fam_sim_session.reset(seed=FAM_CONFIG["seed"])
    return fam_sim_session
