"""Every place the campaign flow leans on a Prefect internal, with the reason (one module).

Prefect 3 has no public switch for these; if an upgrade changes them, this module is the
only one to read again (each function says what breaks without it).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prefect import Task
from prefect.context import FlowRunContext
from prefect.task_runners import ThreadPoolTaskRunner

_NAMED: dict[tuple[str, str], Any] = {}
"""Campaign files loaded to name a flow run (``flow_run_name`` callback), handed to that
run's body so that the file is loaded and validated once per run. Prefect calls the name
callback before the body, in the same process, with no way to pass a value on."""

_NAMED_MAX = 16


def remember_named(run_id: str, source: str, value: Any) -> None:
    """Keep what naming run ``run_id`` loaded from ``source`` for its body."""
    if len(_NAMED) > _NAMED_MAX:  # runs named but never started: forget them
        _NAMED.clear()
    _NAMED[(run_id, source)] = value


def take_named(run_id: str, source: str) -> Any | None:
    """What naming this run loaded from ``source`` (once), or None."""
    return _NAMED.pop((run_id, source), None)


def untagged(task: Task[..., Any]) -> Task[..., Any]:
    """``task`` without tags (set on the instance: ``with_options`` cannot clear them).

    Prefect asks the server for a concurrency slot on ``tag:{tag}`` for every task run
    that has tags, one serialized API round trip per run, whether or not such a limit
    exists. A caller that found no ``tag:`` limit on these tags runs its tasks untagged;
    the flow run keeps the tags for filtering in the UI.
    """
    task.tags = set()
    return task


@contextmanager
def unlinked_results() -> Iterator[None]:
    """Run a task in a copy of the flow run context whose result links are dropped.

    Prefect links every task result (and each of its fields) to the task's state in
    ``FlowRunContext.run_results``, to wire results passed on to later tasks: kept to
    the end of the run (about 4 KB per item). A batch's result is never passed to another
    task, so its links go with the copy.
    """
    context = FlowRunContext.get()
    if context is None:
        yield
        return
    with context.model_copy(update={"run_results": {}}):
        yield


def runs_in_flow_loop() -> bool:
    """True when the flow's task runner is the default one (threads of this process):
    its async tasks then run as coroutines in the flow's own event loop."""
    context = FlowRunContext.get()
    return context is None or type(context.task_runner) is ThreadPoolTaskRunner
