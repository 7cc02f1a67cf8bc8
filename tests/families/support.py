"""Helpers for the family tests: simulator config, clients, requests of every family."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

from prefect_haoee.client import HaoeeClient, HaoeeSettings, PollPolicy
from prefect_haoee.client.families import (
    FamilyRequest,
    ImageEditRequest,
    ImageGenerationRequest,
    KlingImage2VideoRequest,
    KlingText2VideoRequest,
    MinimaxVideoRequest,
    SoraVideoRequest,
    SunoCustomRequest,
    SunoInspirationRequest,
)
from prefect_haoee.client.media import MediaType
from prefect_haoee.simulator import SimulatorConfig, SimulatorHandle
from tests.support import png_bytes

FAM_KEY = "fam-test-key-0123456789"
FAM_CONFIG: dict[str, Any] = {
    "api_keys": (FAM_KEY,),
    "latency_ms": 0,
    "async_latency_ms": 60,
    "latency_sigma": 0,
    "queue_fraction": 0.3,
    "seed": 5,
    "slow_response_s": 0.3,
}
FAST_POLL = PollPolicy(initial_interval=0.02, factor=1.5, max_interval=0.05, timeout=10)


def fam_config(**overrides: Any) -> SimulatorConfig:
    return SimulatorConfig(**{**FAM_CONFIG, **overrides})


def png_b64(width: int = 8, height: int = 8, color: tuple[int, int, int] = (20, 90, 200)) -> str:
    return base64.b64encode(png_bytes(width, height, color)).decode("ascii")


class Sleeps:
    """A client ``sleep`` that records every delay and sleeps at most 20 ms of it."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        time.sleep(min(seconds, 0.02))


def settings_for(sim: SimulatorHandle, **kw: Any) -> HaoeeSettings:
    base: dict[str, Any] = {
        "api_key": SecretStr(FAM_KEY),
        "base_url": sim.base_url,
        "backoff_base": 0.01,
        "backoff_max": 0.02,
        "max_attempts": 4,
    }
    base.update(kw)
    return HaoeeSettings(**base)


def client_for(sim: SimulatorHandle, sleeps: Sleeps | None = None, **kw: Any) -> HaoeeClient:
    return HaoeeClient(settings_for(sim, **kw), poll=FAST_POLL, sleep=sleeps or Sleeps())


def post_script(sim: SimulatorHandle, script: dict[str, str]) -> None:
    response = httpx.post(
        f"{sim.base_url}/_sim/families/fault_script", json={"fault_script": script}, timeout=5
    )
    response.raise_for_status()


@dataclass(frozen=True)
class Family:
    """One job kind of one family, as the parametrized tests see it."""

    name: str
    make: Callable[..., FamilyRequest]
    submit_action: str
    poll_action: str
    media: MediaType | None  # download_media kind (None: images)
    duration: float | None
    files: int = 1


JOB_FAMILIES = [
    Family(
        "images-async",
        lambda prompt="a red kite", **kw: ImageGenerationRequest(
            model="nano-banana", prompt=prompt, size="64x48", **kw
        ),
        "images.generations.async",
        "images.tasks.get",
        None,
        None,
    ),
    Family(
        "images-edit-async",
        lambda prompt="make it blue", **kw: ImageEditRequest(
            model="nano-banana", prompt=prompt, image=[png_b64()], size="32x32", **kw
        ),
        "images.edits.async",
        "images.tasks.get",
        None,
        None,
    ),
    Family(
        "sora",
        lambda prompt="a red kite", **kw: SoraVideoRequest(prompt=prompt, seconds="8", **kw),
        "sora.create",
        "sora.get",
        "video",
        8.0,
    ),
    Family(
        "minimax",
        lambda prompt="a red kite", **kw: MinimaxVideoRequest(
            prompt=prompt, first_frame_image="https://example.com/first.png", duration=10, **kw
        ),
        "minimax.create",
        "minimax.query",
        "video",
        10.0,
    ),
    Family(
        "kling-t2v",
        lambda prompt="a red kite", **kw: KlingText2VideoRequest(prompt=prompt, **kw),
        "kling.text2video",
        "kling.query",
        "video",
        5.0,
    ),
    Family(
        "kling-i2v",
        lambda prompt="a red kite", **kw: KlingImage2VideoRequest(
            image="https://example.com/frame.png", prompt=prompt, duration="10", **kw
        ),
        "kling.image2video",
        "kling.query",
        "video",
        10.0,
    ),
    Family(
        "suno-inspiration",
        lambda prompt="a song about kites", **kw: SunoInspirationRequest(
            gpt_description_prompt=prompt, **kw
        ),
        "suno.submit",
        "suno.fetch",
        "audio",
        8.0,
        files=2,
    ),
    Family(
        "suno-custom",
        lambda prompt="kites fly high", **kw: SunoCustomRequest(
            prompt=prompt, title="Kites", tags="pop", **kw
        ),
        "suno.submit",
        "suno.fetch",
        "audio",
        8.0,
        files=2,
    ),
]
