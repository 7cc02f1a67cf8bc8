"""``produce_image``: one item, from request to verified file in S3, as one task run.

The task is :func:`~prefect_haoee.tasks.item_runner.produce_item` (the one item runner of
every kind) with Prefect retries for what the client cannot retry, and a cache of the
finished record keyed by request hash + destination, so a rerun is one cache read. The
object is ``{prefix}/{request_hash}.{ext}`` (or ``{object_stem}.{ext}``, as a campaign plan
names it); when it already exists the item costs one S3 LIST and no gateway call.
"""

from __future__ import annotations

import hashlib
from typing import Any, cast

from prefect.tasks import TaskRunNameCallbackWithParameters

from prefect_haoee.client.kinds import ModeChoice
from prefect_haoee.client.protocol import resolve_mode
from prefect_haoee.tasks.cache import InputsPolicy, cacheable_hash, step_key
from prefect_haoee.tasks.item_files import default_stem
from prefect_haoee.tasks.item_runner import DEFAULT_MAX_RESEEDS, produce_item, reseed
from prefect_haoee.tasks.retry_rules import haoee_task

__all__ = [
    "DEFAULT_MAX_RESEEDS",
    "ModeChoice",
    "ProducePolicy",
    "default_stem",
    "produce_image",
    "reseed",
    "resolve_mode",
]


class ProducePolicy(InputsPolicy):
    """A finished item is keyed by request hash + destination: a rerun is one cache read."""

    def key_of(self, inputs: dict[str, Any]) -> str | None:
        request_hash = cacheable_hash(inputs.get("request"))
        if request_hash is None:
            return None
        bucket = inputs.get("bucket")
        name = getattr(bucket, "bucket_name", "")
        folder = getattr(bucket, "bucket_folder", "")
        place = f"{name}/{folder}/{inputs.get('prefix', '')}/{inputs.get('object_stem')}"
        where = hashlib.sha256(place.encode()).hexdigest()
        return step_key(f"produce-{where[:16]}", request_hash)


def produce_run_name(parameters: dict[str, Any]) -> str:
    """``produce-{model}``: the task run name of one item."""
    return f"produce-{parameters['request'].model_id}"


produce_image = haoee_task(
    "haoee-produce-image",
    cast(TaskRunNameCallbackWithParameters, produce_run_name),
    paid=True,
    cache_policy=ProducePolicy(),
    persist_result=True,
)(produce_item)
"""Submit/wait (or generate), fetch, verify and store one item; return its record."""
