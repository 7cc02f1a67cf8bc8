"""SIGTERM and SIGHUP stop a command the way Ctrl-C does, and Ctrl-C always works.

cron, systemd, ``timeout`` and Kubernetes stop a process with SIGTERM, and closing a
terminal sends SIGHUP. Python's default for both is to die on the spot, so no ``finally``
runs and the servers a command started (a temporary Prefect server is a child process)
outlive it. Inside :func:`stop_signals` they raise :class:`Stopped`, a
``KeyboardInterrupt``: every ``except KeyboardInterrupt`` and ``finally`` on the way out
runs, exactly as after Ctrl-C.

A command started from a script as ``cmd &`` inherits SIGINT as *ignored* (POSIX shells
do that for background jobs), so Ctrl-C or ``kill -INT`` would never stop it: here SIGINT
gets Python's own handler back. SIGHUP inherited as ignored (``nohup``) stays ignored.
Only the main thread can set handlers; elsewhere :func:`stop_signals` changes nothing.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any


class Stopped(KeyboardInterrupt):
    """A stop signal other than SIGINT arrived (its number in ``signum``)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)


def _raise_stopped(signum: int, frame: FrameType | None) -> None:
    raise Stopped(signum)


def exit_code(exc: KeyboardInterrupt) -> int:
    """The shell's code for a process ended by the signal behind ``exc`` (130 for SIGINT,
    143 for SIGTERM), so callers can still tell a stop from a failure."""
    return 128 + (exc.signum if isinstance(exc, Stopped) else signal.SIGINT)


@contextmanager
def stop_signals() -> Iterator[None]:
    """Within: SIGTERM (and SIGHUP unless ignored) raise :class:`Stopped`, SIGINT raises
    ``KeyboardInterrupt`` even when inherited as ignored. The previous handlers come back
    on exit (a test calling a command in-process keeps its own)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[int, Any] = {}
    wanted: list[tuple[int, Any]] = [(signal.SIGTERM, _raise_stopped)]
    if signal.getsignal(signal.SIGINT) in (signal.SIG_IGN, signal.SIG_DFL):
        wanted.append((signal.SIGINT, signal.default_int_handler))
    hangup = getattr(signal, "SIGHUP", None)
    if hangup is not None and signal.getsignal(hangup) is not signal.SIG_IGN:
        wanted.append((hangup, _raise_stopped))
    for signum, handler in wanted:
        previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
