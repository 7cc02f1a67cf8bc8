"""A ``haoee`` command started as a terminal or as a script starts it, and what it leaves.

``how="terminal"``: its own session and process group, so ``ctrl_c`` reaches the group as
a terminal's Ctrl-C does. ``how="script"``: ``cmd &`` in a non-interactive bash, which
starts it with SIGINT ignored (the shell waits for it, so its exit is awaited as bash's).
Every process of the command carries a marker in its environment: the test finds them
all, its Prefect server included, even once re-parented to init. Output is read line by
line by a thread, so readiness is awaited on the lines themselves.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

MARK = "HAOEE_TEST_PROCESS_MARK"
STOPPED_WITHIN_S = 5.0
"""No process of a stopped command may be alive this long after the signal."""
SCRIPT = '"$@" & echo "pid $!"; wait "$!"'


def marked(mark: str) -> dict[int, str]:
    """pid -> command line of every live process whose environment holds ``mark``."""
    found: dict[int, str] = {}
    needle = f"{MARK}={mark}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:  # gone, or not ours to read
            continue
        if needle in environ.split(b"\0"):
            found[int(entry.name)] = cmdline.replace(b"\0", b" ").decode(errors="replace")
    return found


def exited_within(pid: int, timeout: float) -> bool:
    """Wait (through a pidfd: any process, not only a child) up to ``timeout`` s."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        ready, _, _ = select.select([fd], [], [], max(0.0, timeout))
    finally:
        os.close(fd)
    return bool(ready)


class Started:
    def __init__(self, process: subprocess.Popen[str], mark: str) -> None:
        self.process = process
        self.mark = mark
        self.lines: list[str] = []
        self.pid = process.pid
        self._changed = threading.Condition()
        self._done = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for text in self.process.stdout:
            with self._changed:
                self.lines.append(text)
                self._changed.notify_all()
        with self._changed:
            self._done = True
            self._changed.notify_all()

    def output(self) -> str:
        with self._changed:
            return "".join(self.lines)

    def wait_for(self, text: str, timeout: float) -> str:
        """The output once it holds ``text``; AssertionError (with the output) when the
        command ends first or ``timeout`` s pass."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while text not in "".join(self.lines):
                left = deadline - time.monotonic()
                assert not self._done and left > 0, f"no {text!r} in:\n{self.output()[-4000:]}"
                self._changed.wait(left)
            return "".join(self.lines)

    def others(self) -> dict[int, str]:
        """The command's processes other than the command itself (and its bash)."""
        own = {self.process.pid, self.pid}
        return {pid: cmd for pid, cmd in marked(self.mark).items() if pid not in own}

    def signal(self, signum: int, *, group: bool = False) -> None:
        if group:
            os.killpg(self.pid, signum)
        else:
            os.kill(self.pid, signum)

    def ctrl_c(self) -> None:
        """A terminal's Ctrl-C: SIGINT to the foreground process group."""
        self.signal(signal.SIGINT, group=True)

    def wait(self, timeout: float) -> int:
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout)
        return code

    def survivors(self, within: float) -> dict[int, str]:
        """The marked processes still alive ``within`` s from now (each awaited)."""
        deadline = time.monotonic() + within
        for pid in marked(self.mark):
            exited_within(pid, deadline - time.monotonic())
        return marked(self.mark)

    def kill_all(self) -> None:
        for pid in marked(self.mark):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=30)


@contextmanager
def started(
    command: Sequence[str],
    env: dict[str, str],
    how: Literal["terminal", "script"],
    cwd: Path | None = None,
) -> Iterator[Started]:
    """Start ``command``; on the way out SIGKILL whatever of it is still alive (a failed
    test must not leave servers up for the next one)."""
    mark = uuid.uuid4().hex
    env = {**env, MARK: mark, "PYTHONUNBUFFERED": "1"}
    argv = list(command) if how == "terminal" else ["bash", "-c", SCRIPT, "bash", *command]
    process = subprocess.Popen(
        argv,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    handle = Started(process, mark)
    try:
        if how == "script":
            text = handle.wait_for("pid ", 30)
            first = next(row for row in text.splitlines() if row.startswith("pid "))
            handle.pid = int(first.split()[1])
        yield handle
    finally:
        handle.kill_all()
