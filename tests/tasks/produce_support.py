"""Helpers for task tests: request builders, a small flow over produce_image, a runner script."""

from __future__ import annotations

import asyncio
from typing import Any

from prefect import flow
from prefect.states import State

from prefect_haoee.client import parse_request
from prefect_haoee.client.requests.base import VisualRequest
from prefect_haoee.tasks import produce_image
from prefect_haoee.tasks.records import ImageRecord


def sync_request(i: int, **kw: Any) -> VisualRequest:
    body: dict[str, Any] = {"req_key": "high_aes_general_v20_L", "prompt": f"a red shoe #{i}"}
    body.update({"seed": 1000 + i, **kw})
    return parse_request(body)


def async_request(i: int, **kw: Any) -> VisualRequest:
    body: dict[str, Any] = {
        "req_key": "high_aes_general_v20",
        "prompt": f"a blue bag #{i}",
        "seed": 2000 + i,
    }
    body.update(kw)
    return parse_request(body)


@flow(name="produce-all", persist_result=True)
async def produce_all(
    requests: list[VisualRequest],
    bucket: Any,
    prefix: str,
    retries: int = 0,
    refresh: bool = False,
) -> list[State[ImageRecord]]:
    """Produce every request concurrently; returns each item's final state.

    ``refresh`` ignores Prefect's per-item cache (as the campaign flow does after listing S3).
    """
    task = produce_image.with_options(
        retries=retries, retry_delay_seconds=0, refresh_cache=refresh or None
    )
    return list(
        await asyncio.gather(
            *[task(r, bucket, prefix, return_state=True) for r in requests]  # type: ignore[call-overload]
        )
    )


def records(states: list[State[ImageRecord]]) -> list[ImageRecord]:
    return [s.result() for s in states]  # type: ignore[misc]
