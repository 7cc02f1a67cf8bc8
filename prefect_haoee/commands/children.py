"""Child processes (Prefect servers) that never outlive the command that started them.

A child runs in a session (process group) of its own: Ctrl-C at the terminal reaches only
the command, which then stops its children in order (Prefect's queued logs and events are
shipped before the server they go to stops), and stopping a child ends its whole group
(SIGTERM, SIGKILL after a timeout, and SIGKILL to whatever the group still holds).

Three layers, so that no exit path leaves one running: the command's own cleanup
(``stop`` from an ``ExitStack``, reached on Ctrl-C and SIGTERM too, see ``stopping``); an
``atexit`` hook for children still alive when the interpreter exits (a second Ctrl-C
that cut the cleanup short); and, on Linux, ``PR_SET_PDEATHSIG``: the kernel sends the
child SIGTERM when the thread that started it ends, even on SIGKILL or a crash. The
death signal is set by ``prefect_haoee.commands.tied`` in the child before it execs the
real command (``preexec_fn`` is unsafe in a process with threads, and the demo has them).
It is tied to the starting *thread*, so only children started from the main thread are
tied. ``detached`` children (``haoee server start``) are none of this: they outlive us.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import select
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from typing import IO

_LIVE: set[subprocess.Popen[bytes]] = set()
EXIT_STOP_S = 5.0
"""How long the atexit hook gives a child to stop before SIGKILL."""


def can_tie() -> bool:
    """True when a child started now gets the kernel's death signal (Linux, main thread)."""
    on_main = threading.current_thread() is threading.main_thread()
    return sys.platform.startswith("linux") and on_main


def spawn(
    command: Sequence[str],
    *,
    env: dict[str, str],
    output: IO[bytes],
    detached: bool = False,
) -> subprocess.Popen[bytes]:
    """Start ``command`` in its own session, stdin closed, stdout and stderr to ``output``.

    Unless ``detached``, the child is stopped by ``stop``, at interpreter exit, and (where
    ``can_tie``) by the kernel when this thread ends."""
    argv = list(command)
    if not detached and can_tie():
        argv = [sys.executable, "-m", "prefect_haoee.commands.tied", str(os.getpid()), *argv]
    process = subprocess.Popen(
        argv,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    if not detached:
        _LIVE.add(process)
    return process


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def _exited(process: subprocess.Popen[bytes], timeout: float) -> bool:
    """Wait up to ``timeout`` s for ``process`` to exit, without reaping it where the
    platform has pidfds: its zombie keeps the group id from being reused meanwhile."""
    try:
        fd = os.pidfd_open(process.pid)
    except (AttributeError, OSError):
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return True
    try:
        ready, _, _ = select.select([fd], [], [], timeout)
    finally:
        os.close(fd)
    return bool(ready)


def stop(process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """SIGTERM to the child's group, SIGKILL after ``timeout`` s; then SIGKILL to what is
    left in the group (a grandchild the child did not stop), and reap the child."""
    _LIVE.discard(process)
    if process.returncode is not None:
        return
    _signal_group(process, signal.SIGTERM)
    if not _exited(process, timeout):
        _signal_group(process, signal.SIGKILL)
    _signal_group(process, signal.SIGKILL)
    process.wait()


def live() -> list[subprocess.Popen[bytes]]:
    """The children started here and not stopped yet."""
    return list(_LIVE)


@atexit.register
def _stop_all() -> None:
    for process in live():
        stop(process, timeout=EXIT_STOP_S)
