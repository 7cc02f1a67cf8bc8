"""How a ``haoee`` command ends: its exit code, one line for an unexpected error (the
traceback goes to the debug log), quiet on a closed pipe, and 128 + N on a signal.

Heavy modules (rich, Prefect's logging) are imported only when a command fails.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
from collections.abc import Callable

import typer


def guarded(command: Callable[[], int]) -> int:
    """Run a command; an unexpected error is one line (traceback in the debug log).

    SIGTERM and SIGHUP stop it as Ctrl-C does (see ``commands.stopping``): the servers it
    started stop with it, and the exit code is the shell's 128 + the signal's number."""
    from prefect_haoee.commands.stopping import exit_code, stop_signals

    try:
        with stop_signals():
            try:
                return command()
            finally:
                sys.stdout.flush()  # what is still buffered meets a closed pipe here
    except BrokenPipeError as exc:
        if not _stdout_gone():
            return _failed(exc)  # a socket of ours, not the reader of our output
        return _reader_gone()
    except typer.Exit:
        raise
    except KeyboardInterrupt as exc:
        from prefect_haoee.commands.render import errors

        with contextlib.suppress(OSError):  # the terminal may be gone (SIGHUP)
            errors.print(f"stopped ({str(exc) or 'Ctrl-C'})", highlight=False)
        return exit_code(exc)
    except Exception as exc:  # noqa: BLE001 - never a traceback on the console
        return _failed(exc)


def _failed(exc: BaseException) -> int:
    """One line on the terminal, the traceback in the debug log; exit 1."""
    from prefect_haoee.commands import logs
    from prefect_haoee.commands.render import errors, one_line, say_error

    message = f"haoee failed: {type(exc).__name__}: {exc}"
    logs.log_failure(message, exc, errors)
    say_error((one_line(message), "bold red"))
    say_error(f"  {logs.where_logged()}")
    return 1


def _stdout_gone() -> bool:
    """True when stdout is a pipe whose reader has closed it (POSIX poll: POLLERR)."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(event & (select.POLLERR | select.POLLHUP) for _, event in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll (Windows), no fileno
        return True


def _reader_gone() -> int:
    """The reader of our output went away (``haoee models | head -1``): stop quietly, as
    a process that SIGPIPE ends does (exit 141), with stdout pointed at ``/dev/null`` so
    the interpreter's last flush does not complain either."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return 128 + 13  # SIGPIPE's number (POSIX; Windows has no SIGPIPE)
