"""What a campaign run shows in the Prefect UI: progress, table, gallery, events.

The gallery's grid of thumbnails is :mod:`prefect_haoee.flows.gallery`.

Updates are batched: the progress artifact moves every few percent, not per image (each
update is a call to the Prefect server). Events: one per image (``haoee.image.generated``
/ ``haoee.image.failed``) when the campaign runs one task run per item; otherwise one
``haoee.images.generated`` / ``haoee.images.failed`` per ``EVENT_BATCH`` images whose
payload lists each image (request hash, prompt id, variant, key, sha256, error): the
server stores and matches one event instead of a hundred.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from uuid import UUID

import anyio
from prefect.artifacts import (
    acreate_markdown_artifact,
    acreate_progress_artifact,
    acreate_table_artifact,
    aupdate_progress_artifact,
)
from prefect.events import emit_event
from prefect_aws.s3 import S3Bucket

from prefect_haoee.campaigns import WorkItem
from prefect_haoee.flows.gallery import gallery_markdown
from prefect_haoee.tasks.records import ImageRecord

logger = logging.getLogger("prefect_haoee.flows")


def artifact_key(campaign: str, what: str) -> str:
    return f"{campaign}-{what}"[:100]


class Progress:
    """A progress artifact moved at most every ``step`` percent.

    Items finish concurrently: updates go out one at a time, in order (a FIFO lock), so
    the server never receives 50 % after 100 %.
    """

    def __init__(self, campaign: str, total: int, step: float = 5.0) -> None:
        self.campaign = campaign
        self.total = max(total, 1)
        self.step = step
        self.done = 0
        self._shown = -step
        self._sent = -1.0
        self._id: UUID | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        self._id = await acreate_progress_artifact(
            0.0,
            key=artifact_key(self.campaign, "progress"),
            description=f"Images of campaign {self.campaign} produced so far",
        )

    async def advance(self, count: int = 1) -> None:
        self.done += count
        percent = 100.0 * self.done / self.total
        if self._id is not None and (percent - self._shown >= self.step or self.done >= self.total):
            self._shown = percent
            async with self._lock:
                if percent > self._sent:
                    self._sent = percent
                    await aupdate_progress_artifact(self._id, min(percent, 100.0))


def campaign_resource(campaign: str) -> dict[str, str]:
    return {
        "prefect.resource.id": f"haoee.campaign.{campaign}",
        "prefect.resource.name": campaign,
        "prefect.resource.role": "campaign",
    }


def image_event(item: WorkItem, record: ImageRecord | None, error: str | None) -> None:
    resource = {
        "prefect.resource.id": f"haoee.image.{item.request_hash}",
        "prefect.resource.name": item.label,
        "haoee.req-key": item.req_key,
    }
    payload: dict[str, Any] = {"prompt_id": item.prompt_id, "variant": item.variant}
    if record is not None:
        payload.update(
            key=record.key,
            sha256=record.sha256,
            cost_units=record.cost_units,
            source=record.source,
        )
        name = "haoee.image.generated"
    else:
        payload["error"] = error
        name = "haoee.image.failed"
    emit_event(name, resource=resource, related=[campaign_resource(item.campaign)], payload=payload)


EVENT_BATCH = 100


class ImageEvents:
    """The image events of a run: per image, or gathered ``EVENT_BATCH`` at a time."""

    def __init__(self, campaign: str, per_image: bool) -> None:
        self.campaign = campaign
        self.per_image = per_image
        self._rows: dict[str, list[dict[str, Any]]] = {"generated": [], "failed": []}

    def add(self, item: WorkItem, record: ImageRecord | None, error: str | None) -> None:
        if self.per_image:
            image_event(item, record, error)
            return
        row: dict[str, Any] = {
            "request_hash": item.request_hash,
            "prompt_id": item.prompt_id,
            "variant": item.variant,
            "req_key": item.req_key,
        }
        if record is not None:
            row.update(key=record.key, sha256=record.sha256, cost_units=record.cost_units)
        else:
            row["error"] = error
        what = "generated" if record is not None else "failed"
        self._rows[what].append(row)
        if len(self._rows[what]) >= EVENT_BATCH:
            self._emit(what)

    def flush(self) -> None:
        for what in ("generated", "failed"):
            if self._rows[what]:
                self._emit(what)

    def _emit(self, what: str) -> None:
        rows, self._rows[what] = self._rows[what], []
        emit_event(
            f"haoee.images.{what}",
            resource={
                "prefect.resource.id": f"haoee.campaign.{self.campaign}.images",
                "prefect.resource.name": self.campaign,
            },
            related=[campaign_resource(self.campaign)],
            payload={"count": len(rows), "images": rows},
        )


def campaign_event(campaign: str, summary: dict[str, Any]) -> None:
    emit_event(
        "haoee.campaign.completed",
        resource={
            "prefect.resource.id": f"haoee.campaign.{campaign}",
            "prefect.resource.name": campaign,
        },
        related=[campaign_resource(campaign)],
        payload=summary,
    )


async def publish_results(
    campaign: str,
    bucket: S3Bucket,
    rows: list[dict[str, Any]],
    done: list[tuple[WorkItem, ImageRecord]],
    *,
    files: int | None = None,
    total: int | None = None,
) -> None:
    """The table artifact (one row per item, the first ``len(rows)`` of ``total``: the
    manifest in S3 lists every item) and the gallery of the finished images."""
    total = len(rows) if total is None else total
    described = f"Images of {campaign}"
    if total > len(rows):
        described += f": the first {len(rows)} of {total} (every item: the run's manifest.json)"
    await acreate_table_artifact(rows, key=artifact_key(campaign, "images"), description=described)
    # Thumbnails are read, made and stored in S3 here: off the event loop.
    gallery = await anyio.to_thread.run_sync(gallery_markdown, campaign, bucket, done, files)
    await acreate_markdown_artifact(
        gallery,
        key=artifact_key(campaign, "gallery"),
        description=f"Gallery of {campaign}",
    )
