"""The simulator's side of reference images: they must arrive, and they tint the output."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.references.support import BLUE, GREEN, RED, dominant, http_server, mean_colour, png
from tests.support import SIM_KEY

pytestmark = pytest.mark.integration


def body(**images: Any) -> dict[str, Any]:
    return {
        "req_key": "high_aes_ip_v20",
        "prompt": "the hero",
        "seed": 3,
        "return_url": False,
        **images,
    }


def process(sim: Any, payload: dict[str, Any]) -> dict[str, Any]:
    answer = httpx.post(
        f"{sim.base_url.rstrip('/')}/volcv/v1",
        params={"Action": "CVProcess", "Version": "2022-08-31"},
        json=payload,
        headers={"Authorization": f"Bearer {SIM_KEY}"},
        timeout=10,
    )
    data: dict[str, Any] = answer.json()
    return data


def output_colour(answer: dict[str, Any]) -> str:
    return dominant(mean_colour(base64.b64decode(answer["data"]["binary_data_base64"][0])))


def test_base64_reference_tints_the_output_and_counts_by_content(sim: Any) -> None:
    red = base64.b64encode(png(RED)).decode()
    first = process(sim, body(binary_data_base64=[red]))
    assert first["code"] == 10000 and output_colour(first) == "r"
    assert (
        output_colour(process(sim, body(binary_data_base64=[base64.b64encode(png(BLUE)).decode()])))
        == "b"
    )
    process(sim, body(binary_data_base64=[red]))
    assert sim.stats()["duplicates"] == 1  # the same image content, billed twice


def test_a_reference_that_is_not_an_image_is_refused(sim: Any) -> None:
    fake = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"not really").decode()
    assert process(sim, body(binary_data_base64=[fake]))["code"] == 50207
    assert sim.stats()["billable_generations"] == 0


def test_urls_are_fetched_from_loopback_only(sim: Any, tmp_path: Path) -> None:
    (tmp_path / "green.png").write_bytes(png(GREEN))
    (tmp_path / "text.png").write_text("hello")
    with http_server(tmp_path) as base:
        fetched = process(sim, body(image_urls=[f"{base}/green.png"]))
        assert fetched["code"] == 10000 and output_colour(fetched) == "g"
        assert process(sim, body(image_urls=[f"{base}/missing.png"]))["code"] == 50200
        assert process(sim, body(image_urls=[f"{base}/text.png"]))["code"] == 50207
        # Two presigned links to the same content: one request, paid twice.
        for signature in ("aaa", "bbb"):
            link = f"{base}/green.png?X-Amz-Signature={signature}"
            assert process(sim, body(image_urls=[link]))["code"] == 10000
    stats = sim.stats()
    assert stats["billable_generations"] == 3 and stats["duplicates"] == 1
    # A public host is never contacted: the request goes through untinted.
    remote = process(sim, body(image_urls=["https://images.example.invalid/a.png"]))
    assert remote["code"] == 10000


def test_an_edit_upload_tints_the_output(sim: Any) -> None:
    answer = httpx.post(
        f"{sim.base_url.rstrip('/')}/v1/images/edits",
        data={"model": "nano-banana", "prompt": "the hero", "response_format": "b64_json"},
        files=[("image", ("hero.png", png(BLUE), "image/png"))],
        headers={"Authorization": f"Bearer {SIM_KEY}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    data = base64.b64decode(answer.json()["data"][0]["b64_json"])
    assert dominant(mean_colour(data)) == "b"
