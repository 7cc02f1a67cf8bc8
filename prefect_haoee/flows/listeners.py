"""In-process listeners of a campaign run (the CLI's progress bar listens here).

Flow parameters must be serialisable, so a callback cannot be one; a caller in the same
process registers a listener for the duration of a run instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from prefect_haoee.campaigns import WorkItem
from prefect_haoee.tasks.records import ImageRecord

Listener = Callable[[WorkItem, "ImageRecord | None", "str | None"], None]
"""Called once per finished item: (item, record or None, error or None)."""

_LISTENERS: list[Listener] = []
logger = logging.getLogger("prefect_haoee.flows")


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    _LISTENERS.append(listener)
    try:
        yield
    finally:
        _LISTENERS.remove(listener)


def notify(item: WorkItem, record: ImageRecord | None, error: str | None) -> None:
    """Tell every listener; a listener that raises is logged, never ends the run."""
    for listener in list(_LISTENERS):
        try:
            listener(item, record, error)
        except Exception:
            logger.exception("a listener of campaign %s failed on %s", item.campaign, item.label)
