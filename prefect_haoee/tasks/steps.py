"""Persisted steps inside one task run: each paid step commits on its own.

``produce_image`` runs submit, wait, download and upload as plain client calls in one task
run (one task run per image keeps Prefect's overhead low, DESIGN.md "Performance facts").
Each gateway step still commits its answer to Prefect result storage on its own, under
the same keys the fine-grained tasks use, exactly as an EAGER transaction would:

* a crash after submit resumes by polling the committed task id, never by paying again;
* the commit survives a later failure of the same task run (written at once, never rolled
  back);
* two runs doing the same request at once serialise on the paid-step lock
  (:mod:`~prefect_haoee.tasks.paid_lock`) and the second reads what the first committed;
  a lock not obtained stops the item (:class:`LockNotObtainedError`), it never pays unlocked;
* records are versioned JSON documents (:mod:`~prefect_haoee.tasks.step_json`), and a
  record that exists but cannot be read stops the item (:class:`UnreadableStepError`)
  instead of being taken for "not there" and paid again.

The step talks to the run's ``ResultStore`` directly rather than through
``prefect.transactions``: the async transaction hands each read and write to a worker
thread and back, several milliseconds per item when a campaign keeps the process busy.
With result storage on the local disk the record file is read and written here, in the
event loop, in the format and at the path Prefect's own ``ResultStore`` uses (so
``store.read(key)`` finds it): Prefect's ``LocalFileSystem`` resolves its base path and
the key's path (``realpath``: a syscall per path component) on every create, read and
write, which was a tenth of a campaign's CPU per image. The write is atomic (a temporary
file renamed over the record), so a kill mid-write leaves the old record or none, never a
torn one. Other storage (an S3 bucket block) keeps Prefect's async calls.
"""

from __future__ import annotations

import functools
import logging
import os
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

from botocore.exceptions import ClientError
from prefect._internal.result_records import ResultRecord, ResultRecordMetadata
from prefect.filesystems import LocalFileSystem
from prefect.results import ResultStore, get_result_store

from prefect_haoee.blocks import named_result_storage
from prefect_haoee.tasks.errors import UnreadableStepError
from prefect_haoee.tasks.paid_lock import paid_lock
from prefect_haoee.tasks.retry_rules import is_retryable
from prefect_haoee.tasks.step_json import STEP_SERIALIZER, STEP_TYPES, decode_step, encode_step

T = TypeVar("T")

logger = logging.getLogger("prefect_haoee.tasks")

_STEP_CLASSES = tuple(STEP_TYPES.values())


def step_store() -> ResultStore:
    """The current run's result store (or ``HAOEE_RESULT_STORAGE_BLOCK``), writing
    versioned JSON; the lock is ours (:func:`paid_lock`), so the store holds no lock
    manager of its own."""
    update: dict[str, Any] = {"lock_manager": None, "serializer": STEP_SERIALIZER}
    storage = named_result_storage()
    if storage is not None:
        update["result_storage"] = storage
    return get_result_store().model_copy(update=update)


def _on_local_disk(store: ResultStore) -> bool:
    """True when the store reads and writes files on this machine (no network)."""
    return isinstance(store.result_storage, LocalFileSystem) and store.metadata_storage is None


@functools.lru_cache(maxsize=16)
def _resolved(basepath: str) -> Path:
    return Path(basepath).expanduser().resolve() if basepath else Path(".").resolve()


def _local_path(store: ResultStore, key: str) -> Path:
    """Where Prefect's ``LocalFileSystem`` keeps ``key`` (a step key: no ``..``, no ``/``)."""
    storage = store.result_storage
    assert isinstance(storage, LocalFileSystem)
    if not key or "/" in key or "\\" in key or key.startswith("."):
        # A key holds a gateway task id: never let one name a path outside the store.
        raise ValueError(f"step key {key!r} is not a plain file name")
    return _resolved(str(storage.basepath or "")) / key


def _read_local(store: ResultStore, key: str) -> ResultRecord[Any]:
    data = _local_path(store, key).read_bytes()
    return ResultRecord.deserialize(data, backup_serializer=store.serializer)


def _write_local(store: ResultStore, key: str, value: Any, expires: datetime) -> None:
    path = _local_path(store, key)
    record: ResultRecord[Any] = ResultRecord(
        result=value,
        metadata=ResultRecordMetadata(
            serializer=store.serializer, expiration=expires, storage_key=str(path)
        ),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        scratch.write_bytes(record.serialize())
        os.replace(scratch, path)
    finally:
        scratch.unlink(missing_ok=True)


def _is_missing(exc: BaseException) -> bool:
    """True when a read failed because nothing is stored under the key."""
    if isinstance(exc, FileNotFoundError):
        return True
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return error.get("Code") in ("NoSuchKey", "404", "NotFound") or status == 404
    # LocalFileSystem.read_path: ValueError("Path ... does not exist.")
    return type(exc) is ValueError and "does not exist" in str(exc)


async def _committed(store: ResultStore, key: str, holder: str, local: bool) -> Any | None:
    """The unexpired value committed under ``key``, or None when nothing is stored.

    A record that exists but cannot be read raises :class:`UnreadableStepError`; a
    storage failure that may pass (S3 unreachable) propagates as is (a task retry helps).
    """
    try:
        record = _read_local(store, key) if local else await store.aread(key, holder)
    except UnreadableStepError as exc:
        raise UnreadableStepError(f"{exc.message} (record {key!r})") from None
    except Exception as exc:
        if _is_missing(exc):
            return None
        if is_retryable(exc):
            raise
        raise UnreadableStepError(
            f"Committed step {key!r} exists but cannot be read ({type(exc).__name__}): "
            "it is not paid again; inspect or delete that record in result storage, then rerun"
        ) from exc
    expiration = record.metadata.expiration
    if expiration is not None and expiration <= datetime.now(timezone.utc):
        return None
    if not isinstance(record.result, _STEP_CLASSES):
        raise UnreadableStepError(
            f"Committed step {key!r} holds a {type(record.result).__name__}, not a step answer: "
            "it is not paid again; delete that record in result storage, then rerun"
        )
    return record.result


async def _persist(
    store: ResultStore, key: str, value: Any, expires: datetime, local: bool
) -> None:
    try:
        if local:
            _write_local(store, key, value, expires)
        else:
            result = store.create_result_record(value, key=key, expiration=expires)  # type: ignore[arg-type]
            await store.apersist_result_record(result, holder=uuid.uuid4().hex)
    except Exception as exc:  # noqa: BLE001 - as a transaction's commit: logged, value kept
        logger.warning("Step %r could not be committed to result storage: %s", key, exc)


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
    ``serializable`` holds the paid-step lock on ``key`` from the look-up to the commit.
    ``overwrite`` computes again and replaces what is committed.
    """
    if key is None:
        return await compute(), False
    store = step_store()
    local = _on_local_disk(store)
    holder = uuid.uuid4().hex
    if not serializable:
        if not overwrite:
            found = await _committed(store, key, holder, local)
            if found is not None:
                return found, True
        value = await compute()
        await _persist(store, key, value, datetime.now(timezone.utc) + expiration, local)
        return value, False
    async with paid_lock(key, overwrite=overwrite) as lease:
        if not overwrite:
            if lease.committed is not None:
                value = decode_step(lease.committed, f"step {key!r} committed with its lock")
                return value, True
            found = await _committed(store, key, holder, local)
            if found is not None:
                return found, True
        value = await compute()
        expires = datetime.now(timezone.utc) + expiration
        lease.commit(encode_step(value), expires)
        await _persist(store, key, value, expires, local)
        return value, False
