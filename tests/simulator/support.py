"""Helpers for the simulator tests: configs, bodies, and raw HTTP calls (no client classes)."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from PIL import Image

from prefect_haoee.simulator import SimulatorConfig, SimulatorHandle, run_simulator
from tests.support import png_bytes

API_KEY = "test-key"
VERSION = "2022-08-31"
CV_PROCESS = "CVProcess"
SUBMIT = "CVSync2AsyncSubmitTask"
GET_RESULT = "CVSync2AsyncGetResult"

BASE_CONFIG: dict[str, Any] = {
    "api_keys": (API_KEY,),
    "latency_ms": 0,
    "latency_sigma": 0,
    "seed": 7,
    "slow_response_s": 0.6,
    "moderation_words": {"blocked-text": 50412, "copyright-word": 50413, "blocked-image": 50411},
}

# A 1x1 PNG, raw base64 (what an image input looks like on the wire).
TINY_PNG_B64 = base64.b64encode(png_bytes(1, 1, (200, 10, 10))).decode("ascii")


def sim_config(**overrides: Any) -> SimulatorConfig:
    return SimulatorConfig(**{**BASE_CONFIG, **overrides})


def t2i_body(prompt: str = "a lighthouse at dawn", seed: int = 11, **extra: Any) -> dict[str, Any]:
    """A high_aes_general_v20_L body (served sync and async)."""
    body: dict[str, Any] = {
        "req_key": "high_aes_general_v20_L",
        "prompt": prompt,
        "seed": seed,
        "scale": 3.5,
        "ddim_steps": 16,
        "width": 512,
        "height": 512,
        "use_sr": False,
        "return_url": True,
    }
    body.update(extra)
    return body


class Gateway:
    """Raw HTTP calls to one simulator (no client classes on purpose)."""

    def __init__(self, handle: SimulatorHandle, http: httpx.Client) -> None:
        self.handle = handle
        self.http = http

    def call(
        self,
        action: str,
        body: dict[str, Any] | None = None,
        *,
        fault: str | None = None,
        headers: dict[str, str] | None = None,
        path: str = "/volcv/v1",
        key: str | None = API_KEY,
        timeout: float = 10.0,
    ) -> httpx.Response:
        hdrs: dict[str, str] = {}
        if key is not None and path == "/volcv/v1":
            hdrs["Authorization"] = f"Bearer {key}"
        if fault is not None:
            hdrs["X-Sim-Fault"] = fault
        hdrs.update(headers or {})
        params = {"Action": action, "Version": VERSION}
        return self.http.post(path, params=params, json=body, headers=hdrs, timeout=timeout)

    def process(self, body: dict[str, Any], **kw: Any) -> httpx.Response:
        return self.call(CV_PROCESS, body, **kw)

    def submit(self, body: dict[str, Any], **kw: Any) -> httpx.Response:
        return self.call(SUBMIT, body, **kw)

    def poll(
        self, req_key: str, task_id: str, return_url: bool | None = True, **kw: Any
    ) -> httpx.Response:
        body: dict[str, Any] = {"req_key": req_key, "task_id": task_id}
        if return_url is not None:
            body["req_json"] = f'{{"return_url":{str(return_url).lower()}}}'
        return self.call(GET_RESULT, body, **kw)

    def stats(self) -> dict[str, Any]:
        return self.handle.stats()


@contextmanager
def gateway(**overrides: Any) -> Iterator[Gateway]:
    """A simulator of its own (for configs the shared one does not have)."""
    with (
        run_simulator(sim_config(**overrides)) as handle,
        httpx.Client(base_url=handle.base_url, timeout=10.0) as client,
    ):
        yield Gateway(handle, client)


def open_image(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def decode_b64_image(value: str) -> Image.Image:
    return open_image(base64.b64decode(value, validate=True))


def code_of(response: httpx.Response) -> int:
    code: int = response.json()["code"]
    return code
