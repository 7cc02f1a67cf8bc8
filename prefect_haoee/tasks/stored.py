"""What S3 already holds: the record of an item whose object is stored, and who paid.

Objects carry their identity in S3 user metadata (request hash, sha256, seed, format,
size, duration), so an item found in S3 needs no gateway call and no download.
"""

from __future__ import annotations

from typing import Any

from prefect.context import FlowRunContext, TaskRunContext
from prefect_aws.s3 import S3Bucket

from prefect_haoee.client.catalog import Mode
from prefect_haoee.client.protocol import AnyRequest
from prefect_haoee.tasks.records import ImageRecord
from prefect_haoee.tasks.storage import find_stored, full_key, head_object


def paying_run() -> str:
    """Who pays in this process now: the flow run id (the task run id outside a flow)."""
    task_ctx = TaskRunContext.get()
    if task_ctx is not None:
        return str(task_ctx.task_run.flow_run_id or task_ctx.task_run.id)
    flow_ctx = FlowRunContext.get()
    if flow_ctx is not None and flow_ctx.flow_run is not None:
        return str(flow_ctx.flow_run.id)
    return "unknown"


def paid_twice_with(
    paid: int, payer: str, found: list[str | None], lease_lost: bool = False
) -> str | None:
    """The other payer when this run paid (``paid > 0``) for an object another run had
    already stored at upload time (``found``: the payers S3 named), or ``"unknown"`` when
    the ledger lost our lease while we paid (another holder may have paid too)."""
    if paid <= 0:
        return None
    others = [f for f in found if f is not None and f != payer]
    if others:
        return others[0]
    return "unknown" if lease_lost else None


def record_from_head(
    request: AnyRequest, mode: Mode, bucket: S3Bucket, key: str, head: dict[str, Any]
) -> ImageRecord:
    """The record of the stored object ``key`` (relative to the block's folder, as
    :func:`find_stored` answers) from its HEAD answer; the record holds the bucket key."""
    return ImageRecord.from_head(request, mode, bucket.bucket_name, full_key(bucket, key), head)


def stored_record(
    request: AnyRequest, bucket: S3Bucket, stem: str, mode: Mode | None = None
) -> ImageRecord | None:
    """The record of an object already in S3 under ``stem`` (None if it is not there)."""
    key = find_stored(bucket, stem)
    head = head_object(bucket, key) if key is not None else None
    if key is None or head is None:
        return None
    stored_mode = head.get("Metadata", {}).get("mode")
    chosen: Mode = mode or ("async" if stored_mode == "async" else "sync")
    return record_from_head(request, chosen, bucket, key, head)
