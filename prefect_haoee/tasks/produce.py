"""``produce_image``: one item, from request to verified file in S3, as one task run.

The task is :func:`~prefect_haoee.tasks.item_runner.produce_item` (the one item runner of
every kind) with Prefect retries for what the client cannot retry. It keeps no Prefect
cache or result of its own: S3 and the ledger of paid steps are what a rerun reads. The
object is ``{prefix}/{request_hash}.{ext}`` (or ``{object_stem}.{ext}``, as a campaign plan
names it); when it already exists the item costs one S3 LIST and no gateway call.
"""

from __future__ import annotations

from typing import Any, cast

from prefect.cache_policies import NO_CACHE
from prefect.tasks import TaskRunNameCallbackWithParameters

from prefect_haoee.client.kinds import ModeChoice
from prefect_haoee.client.protocol import resolve_mode
from prefect_haoee.tasks.item_files import default_stem
from prefect_haoee.tasks.item_runner import DEFAULT_MAX_RESEEDS, produce_item, reseed
from prefect_haoee.tasks.retry_rules import haoee_task

__all__ = [
    "DEFAULT_MAX_RESEEDS",
    "ModeChoice",
    "default_stem",
    "produce_image",
    "reseed",
    "resolve_mode",
]


def produce_run_name(parameters: dict[str, Any]) -> str:
    """``produce-{model}``: the task run name of one item."""
    return f"produce-{parameters['request'].model_id}"


produce_image = haoee_task(
    "haoee-produce-image",
    cast(TaskRunNameCallbackWithParameters, produce_run_name),
    paid=True,
    cache_policy=NO_CACHE,
    persist_result=False,
)(produce_item)
"""Submit/wait (or generate), fetch, verify and store one item; return its record."""
