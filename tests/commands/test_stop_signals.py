"""Ctrl-C, SIGTERM and SIGKILL leave no process of ours behind, however the command started.

``haoee run`` is signalled while it waits for its temporary Prefect server (the server
process exists, the API does not answer yet), ``haoee demo --keep`` once it says its
servers stay up. Each from a terminal-like start (own process group; Ctrl-C goes to the
group) and from a script's ``cmd &`` (SIGINT inherited as ignored). Five seconds after
the signal no process carrying the test's marker may be alive: the command, its Prefect
server (uvicorn), anything they started.
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from typing import Any, Literal

import pytest

from tests.cli_support import clean_env, haoee, own_parts_env
from tests.commands.processes import MARK, STOPPED_WITHIN_S, Started, started

pytestmark = pytest.mark.integration

STARTUP_S = 420  # a demo on a loaded 2-core machine
SERVER_SPAWN_S = 120

CAMPAIGN = """
name: {name}
model: high_aes_general_v20_L
mode: sync
prompts:
  - {{id: p0, prompt: "stopped before it starts"}}
output:
  bucket: {bucket}
"""


def send(command: Started, how: str, signum: int) -> None:
    """SIGINT as Ctrl-C (the group, from a terminal) or ``kill -INT`` (a script's job);
    other signals as ``kill``, to the command alone."""
    command.signal(signum, group=how == "terminal" and signum == signal.SIGINT)


def assert_nothing_left(command: Started) -> None:
    left = command.survivors(within=STOPPED_WITHIN_S)
    assert not left, (
        f"alive {STOPPED_WITHIN_S:.0f} s after the signal: {left}\n" + (command.output()[-3000:])
    )


def server_of(command: Started) -> tuple[int, str]:
    """The Prefect server process the command started (awaited: it appears right after
    the command says it is starting one, and a child's birth cannot be awaited)."""
    deadline = time.monotonic() + SERVER_SPAWN_S
    while not (others := command.others()):
        assert time.monotonic() < deadline, command.output()[-3000:]
        assert command.process.poll() is None, command.output()[-3000:]
        time.sleep(0.05)
    return next(iter(others.items()))


def environment_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    pairs = (item.decode(errors="replace").partition("=") for item in raw if item)
    return {name: value for name, _, value in pairs}


REPORT_SIGINT = (
    "import signal, time; ignored = signal.getsignal(signal.SIGINT) is signal.SIG_IGN;"
    " print('SIGINT ignored:', ignored, flush=True); time.sleep(600)"
)


def test_a_script_starts_a_background_command_with_sigint_ignored(tmp_path: Path) -> None:
    """The two ways of starting differ as in real life (else the tests below prove
    nothing about ``cmd &``)."""
    ways: list[tuple[Literal["terminal", "script"], str]] = [
        ("script", "SIGINT ignored: True"),
        ("terminal", "SIGINT ignored: False"),
    ]
    for how, expected in ways:
        command_line = [sys.executable, "-c", REPORT_SIGINT]
        with started(command_line, clean_env(tmp_path), how) as command:
            assert expected in command.wait_for("SIGINT ignored:", 60), how
            assert command.others() == {}
            command.signal(signal.SIGKILL)
            assert command.survivors(within=STOPPED_WITHIN_S) == {}


SIGNALS = [
    ("terminal", signal.SIGINT),
    ("terminal", signal.SIGTERM),
    ("script", signal.SIGINT),
    ("script", signal.SIGTERM),
    ("terminal", signal.SIGKILL),
]


@pytest.mark.parametrize(("how", "signum"), SIGNALS, ids=lambda v: getattr(v, "name", v))
def test_run_stops_its_temporary_server_during_start_up(
    how: Literal["terminal", "script"],
    signum: int,
    sim: Any,
    s3_server: str,
    s3_bucket: Any,
    tmp_path: Path,
) -> None:
    path = tmp_path / "stopped.yaml"
    path.write_text(CAMPAIGN.format(name="stopped", bucket=s3_bucket.bucket_name))
    env = own_parts_env(tmp_path, sim.base_url, s3_server)
    with started(haoee("run", str(path)), env, how) as command:
        command.wait_for("Starting a temporary Prefect server", SERVER_SPAWN_S)
        pid, _ = server_of(command)
        server_env = environment_of(pid)
        assert server_env[MARK] == command.mark
        assert server_env.get("PREFECT_SERVER_ANALYTICS_ENABLED") == "false"
        send(command, how, signum)
        assert_nothing_left(command)
        code = command.wait(timeout=STOPPED_WITHIN_S)
    text = command.output()
    if signum == signal.SIGKILL:  # no cleanup ran: the kernel stopped the server
        assert code == -signal.SIGKILL, text[-3000:]
        return
    assert code == 128 + signum, text[-3000:]
    name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
    assert f"stopped ({name})" in text and "Traceback" not in text, text[-3000:]
    assert sim.stats()["billable_generations"] == 0  # stopped before anything was paid


DEMO_SIGNALS = [
    ("script", signal.SIGINT),
    ("script", signal.SIGTERM),
    ("terminal", signal.SIGTERM),
]


@pytest.mark.parametrize(("how", "signum"), DEMO_SIGNALS, ids=lambda v: getattr(v, "name", v))
def test_demo_keep_stops_everything_on_a_signal(
    how: Literal["terminal", "script"], signum: int, tmp_path: Path
) -> None:
    """Ctrl-C from a terminal is ``tests/flows/test_demo_command.py``'s own test."""
    with started(haoee("demo", "--keep"), clean_env(tmp_path), how) as command:
        command.wait_for("stay up", STARTUP_S)
        assert command.others(), "no Prefect server of the demo's own"
        send(command, how, signum)
        assert_nothing_left(command)
        code = command.wait(timeout=STOPPED_WITHIN_S)
    text = command.output()
    assert code == 0 and "stopping" in text and "Traceback" not in text, text[-3000:]
