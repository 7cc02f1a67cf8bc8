"""Persisted steps inside one task run: each paid step commits on its own.

``produce_image`` runs submit, wait, download and upload as plain client calls in one task
run (one task run per image keeps Prefect's overhead low, DESIGN.md "Performance facts").
Each gateway step still commits its answer to Prefect result storage on its own, under
the same keys the fine-grained tasks use, exactly as an EAGER transaction would:

* a crash after submit resumes by polling the committed task id, never by paying again;
* the commit survives a later failure of the same task run (written at once, never rolled
  back);
* two runs doing the same request at once serialise on the store's lock (SERIALIZABLE)
  and the second reads what the first committed.

The step talks to the run's ``ResultStore`` directly (lock, read, write) rather than
through ``prefect.transactions``: with result storage on the local disk, reads and writes
take tens of microseconds in the event loop, where the async transaction hands each of
them to a worker thread and back, which costs several milliseconds per item when a
campaign keeps the process busy. Other storage (an S3 bucket block) keeps the async calls.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, TypeVar

from prefect.filesystems import LocalFileSystem
from prefect.results import ResultStore, get_result_store

from prefect_haoee.tasks.locks import LOCK_MANAGER

if TYPE_CHECKING:
    from prefect._internal.result_records import ResultRecord

T = TypeVar("T")

logger = logging.getLogger("prefect_haoee.tasks")


def step_store() -> ResultStore:
    """The current run's result store, with the lock manager paid steps need."""
    store = get_result_store()
    if store.lock_manager is None:
        store = store.model_copy(update={"lock_manager": LOCK_MANAGER})
    return store


def _on_local_disk(store: ResultStore) -> bool:
    """True when the store reads and writes files on this machine (no network)."""
    return isinstance(store.result_storage, LocalFileSystem) and (
        store.metadata_storage is None or isinstance(store.metadata_storage, LocalFileSystem)
    )


async def _committed(
    store: ResultStore, key: str, holder: str, local: bool
) -> ResultRecord[Any] | None:
    """The unexpired record committed under ``key``, or None (missing or unreadable, as
    ``ResultStore.exists`` judges it)."""
    try:
        record = store.read(key, holder=holder) if local else await store.aread(key, holder)
    except Exception:  # noqa: BLE001 - not there, or not readable: not committed
        return None
    expiration = record.metadata.expiration
    if expiration is not None and expiration <= datetime.now(timezone.utc):
        return None
    return record


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
    ``serializable`` holds the store's lock on ``key`` from the look-up to the commit.
    ``overwrite`` computes again and replaces what is committed.
    """
    if key is None:
        return await compute(), False
    store = step_store()
    local = _on_local_disk(store)
    holder = uuid.uuid4().hex
    if serializable:
        await store.aacquire_lock(key, holder=holder)
    try:
        if not overwrite:
            record = await _committed(store, key, holder, local)
            if record is not None:
                return record.result, True
        value = await compute()
        expires = datetime.now(timezone.utc) + expiration
        result = store.create_result_record(value, key=key, expiration=expires)  # type: ignore[arg-type]
        try:
            if local:
                store.persist_result_record(result, holder=holder)
            else:
                await store.apersist_result_record(result, holder=holder)
        except Exception as exc:  # noqa: BLE001 - as a transaction's commit: logged, value kept
            logger.warning("Step %r could not be committed to result storage: %s", key, exc)
        return value, False
    finally:
        if serializable:
            store.release_lock(key, holder=holder)
