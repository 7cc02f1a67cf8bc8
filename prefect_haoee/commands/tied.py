"""``python -m prefect_haoee.commands.tied PARENT_PID COMMAND...``: COMMAND, tied to its parent.

Linux only (see ``children``): asks the kernel for SIGTERM when the parent thread ends
(``PR_SET_PDEATHSIG``, kept across ``execv``), then becomes COMMAND. A parent that died
before the request took effect is caught by comparing ``getppid()`` with PARENT_PID: then
COMMAND never starts. Imports nothing but the standard library, so it adds only an
interpreter start to the child's start.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1
EXIT_ORPHANED = 143
"""Exit code when the parent was already gone (as if SIGTERM had arrived)."""


def request_death_signal(signum: int = signal.SIGTERM) -> bool:
    """Ask for ``signum`` when the parent thread ends; False where prctl is missing."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def main(argv: list[str]) -> int:
    if len(argv) < 2 or not argv[0].isdigit():
        print("usage: python -m prefect_haoee.commands.tied PARENT_PID COMMAND...", file=sys.stderr)
        return 2
    parent, command = int(argv[0]), argv[1:]
    request_death_signal()
    if os.getppid() != parent:
        return EXIT_ORPHANED
    os.execv(command[0], command)
    return 0  # not reached: execv replaces this process or raises


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
