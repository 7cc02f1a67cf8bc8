"""A local stand-in for the Haoee gateway's Volcengine visual API, with fault injection.

Start it from Python with :func:`run_simulator` or from a shell with ``haoee simulate``.
It never imports the client's request models (it keeps its own checks) nor Prefect.
"""

from prefect_haoee.simulator.app import create_app
from prefect_haoee.simulator.config import FAULT_NAMES, SimulatorConfig, parse_fault_rates
from prefect_haoee.simulator.ledger import request_hash
from prefect_haoee.simulator.server import SimulatorHandle, run_simulator, serve

__all__ = [
    "FAULT_NAMES",
    "SimulatorConfig",
    "SimulatorHandle",
    "create_app",
    "parse_fault_rates",
    "request_hash",
    "run_simulator",
    "serve",
]
