"""The asyncio client runs the same family jobs through the same retry loop."""

from __future__ import annotations

import asyncio

import pytest

from prefect_haoee.client import AsyncHaoeeClient
from prefect_haoee.client.errors import ContentRejectedError, TaskTimeoutError
from prefect_haoee.client.families import ImageGenerationRequest
from prefect_haoee.simulator import SimulatorHandle
from tests.families.support import FAST_POLL, JOB_FAMILIES, post_script, settings_for


class AsyncSleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(min(seconds, 0.02))


def aclient(sim: SimulatorHandle, sleeps: AsyncSleeps) -> AsyncHaoeeClient:
    return AsyncHaoeeClient(settings_for(sim), poll=FAST_POLL, sleep=sleeps)


async def test_every_family_concurrently(fsim: SimulatorHandle) -> None:
    families = [f for f in JOB_FAMILIES if f.media is not None]
    sleeps = AsyncSleeps()
    chunks: list[int] = []

    async def sink(data: bytes) -> None:
        chunks.append(len(data))

    async with aclient(fsim, sleeps) as client:
        handles = await asyncio.gather(*(client.submit_job(f.make()) for f in families))
        states = await asyncio.gather(*(client.wait_job(h) for h in handles))
        media = await asyncio.gather(
            *(
                client.download_media(s.file_urls[0], sink, f.media or "video")
                for f, s in zip(families, states, strict=True)
            )
        )
    assert [m.duration_s for m in media] == pytest.approx([f.duration for f in families], abs=0.05)
    assert sum(chunks) == sum(m.size for m in media)
    assert fsim.stats()["billable_generations"] == len(families)


async def test_async_retries_and_errors(fsim: SimulatorHandle) -> None:
    post_script(fsim, {"suno.submit:1": "429", "sora.create:1": "50519"})
    sleeps = AsyncSleeps()
    async with aclient(fsim, sleeps) as client:
        suno = await client.submit_job(JOB_FAMILIES[6].make())
        assert 1.0 <= sleeps.delays[0] <= 1.1  # Retry-After + <= 10 % jitter
        with pytest.raises(TaskTimeoutError):  # the job takes 60 ms; a 1 ms deadline ends first
            await client.wait_job(suno, timeout=0.001)
        sora = await client.submit_job(JOB_FAMILIES[2].make())
        with pytest.raises(ContentRejectedError):
            await client.wait_job(sora)
        images = await client.generate_images(
            ImageGenerationRequest(model="nano-banana", prompt="x", size="16x16")
        )
        assert (await client.download(images.urls[0])).width == 16
