"""Persisted steps inside one task run: each paid step commits on its own.

``produce_image`` runs submit, wait, download and upload as plain client calls in one task
run (one task run per image keeps Prefect's overhead low, DESIGN.md "Performance facts").
Each gateway step still commits its answer to Prefect result storage in its own EAGER
transaction, under the same keys the fine-grained tasks use, so that:

* a crash after submit resumes by polling the committed task id, never by paying again;
* the commit survives a later failure of the same task run (EAGER, not rolled back);
* two runs doing the same request at once serialise on a lock and the second reads.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import TypeVar

from prefect.results import ResultStore, get_result_store
from prefect.transactions import CommitMode, IsolationLevel, atransaction

from prefect_haoee.tasks.locks import LOCK_MANAGER

T = TypeVar("T")


def step_store() -> ResultStore:
    """The current run's result store, with the lock manager paid steps need."""
    store = get_result_store()
    if store.lock_manager is None:
        store = store.model_copy(update={"lock_manager": LOCK_MANAGER})
    return store


async def persisted_step(
    key: str | None,
    compute: Callable[[], Awaitable[T]],
    *,
    expiration: timedelta,
    serializable: bool,
    overwrite: bool = False,
) -> tuple[T, bool]:
    """Run ``compute`` once per ``key`` (until ``expiration``); return (value, reused).

    ``key=None`` (a random-seed request) computes every time and persists nothing.
    """
    if key is None:
        return await compute(), False
    store = step_store()
    level = IsolationLevel.SERIALIZABLE if serializable else IsolationLevel.READ_COMMITTED
    async with atransaction(
        key=key,
        store=store,
        commit_mode=CommitMode.EAGER,
        isolation_level=level,
        overwrite=overwrite,
    ) as txn:
        if txn.is_committed():
            record = await txn.read()
            if record is not None:
                return record.result, True
        value = await compute()
        expires = datetime.now(timezone.utc) + expiration
        txn.stage(store.create_result_record(value, key=key, expiration=expires))  # type: ignore[arg-type]
    return value, False
