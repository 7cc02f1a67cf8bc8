"""OpenAI-style images over real HTTP: sync generations and edits (url and b64_json), the
ledger, faults, and the official ``openai`` client pointed at the simulator."""

from __future__ import annotations

import base64
import io

import openai
import pytest
from PIL import Image

from prefect_haoee.client.errors import (
    ContentRejectedError,
    DownloadError,
    InvalidRequestError,
    TransportError,
)
from prefect_haoee.client.families import ImageEditRequest, ImageGenerationRequest
from prefect_haoee.simulator import SimulatorHandle
from tests.families.support import FAM_KEY, Sleeps, client_for, png_b64, post_script


def test_generation_returns_urls_and_bills_once(fsim: SimulatorHandle) -> None:
    request = ImageGenerationRequest(model="nano-banana", prompt="a lighthouse", n=2, size="96x64")
    with client_for(fsim) as client:
        images = client.generate_images(request)
        assert images.count == 2 and len(images.urls) == 2
        first = client.download(images.urls[0])
        second = client.download(images.urls[1])
    assert (first.width, first.height) == (96, 64)
    assert first.sha256 != second.sha256
    ledger = fsim.ledger()
    assert [(e["action"], e["req_key"], e["hash"]) for e in ledger] == [
        ("images.generations", "nano-banana", request.request_hash)
    ]


def test_b64_json_and_url_are_the_same_request(fsim: SimulatorHandle) -> None:
    as_url = ImageGenerationRequest(model="qwen-image", prompt="a fox", size="32x32")
    as_b64 = as_url.model_copy(update={"response_format": "b64_json"})
    assert as_url.request_hash == as_b64.request_hash  # a delivery option
    with client_for(fsim) as client:
        by_url = client.download(client.generate_images(as_url).urls[0])
        inline = client.generate_images(as_b64)
        assert inline.urls == [] and len(inline.base64) == 1
        by_b64 = client.download(inline.base64[0])
    assert by_url.sha256 == by_b64.sha256
    assert fsim.stats()["duplicates"] == 1


def test_seedream_answers_with_model_and_usage(fsim: SimulatorHandle) -> None:
    request = ImageGenerationRequest(
        model="doubao-seedream-4-5-251128", prompt="a city", size="2560x1440", watermark=False
    )
    with client_for(fsim) as client:
        images = client.generate_images(request)
    assert images.extras["model"] == "doubao-seedream-4-5-251128"
    assert images.extras["usage"]["generated_images"] == 1


def test_edit_is_a_multipart_form_hashed_like_the_client(fsim: SimulatorHandle) -> None:
    request = ImageEditRequest(
        model="nano-banana", prompt="paint it blue", image=[png_b64(), png_b64(color=(1, 2, 3))]
    )
    with client_for(fsim) as client:
        images = client.generate_images(request)
        assert client.download(images.urls[0]).format == "PNG"
    ledger = fsim.ledger()
    assert ledger[0]["action"] == "images.edits"
    assert ledger[0]["hash"] == request.request_hash


def test_sync_faults_retry_then_moderation(fsim: SimulatorHandle) -> None:
    post_script(
        fsim,
        {
            "images.generations:1": "429",
            "images.generations:2": "500",
            "images.generations:3": "50511",
        },
    )
    sleeps = Sleeps()
    request = ImageGenerationRequest(model="nano-banana", prompt="a boat", size="16x16")
    with client_for(fsim, sleeps) as client, pytest.raises(ContentRejectedError):
        client.generate_images(request)
    assert 1.0 <= sleeps.delays[0] <= 1.1 and len(sleeps.delays) == 2
    assert fsim.stats()["billable_generations"] == 0


def test_an_expired_url_is_a_download_error(fsim: SimulatorHandle) -> None:
    post_script(fsim, {"images.generations:1": "expired_url"})
    with client_for(fsim) as client:
        images = client.generate_images(
            ImageGenerationRequest(model="nano-banana", prompt="a bird", size="16x16")
        )
        with pytest.raises(DownloadError, match="HTTP 403"):
            client.download(images.urls[0])


def test_an_image_is_not_a_video(fsim: SimulatorHandle) -> None:
    with client_for(fsim) as client:
        url = client.generate_images(
            ImageGenerationRequest(model="nano-banana", prompt="a bird", size="16x16")
        ).urls[0]
        sink = io.BytesIO()
        with pytest.raises(DownloadError, match="image/png"):
            client.download_media(url, sink, "video")
    assert sink.getvalue() == b""


def test_a_bad_body_is_an_invalid_request(fsim: SimulatorHandle) -> None:
    import httpx

    response = httpx.post(
        f"{fsim.base_url}/v1/images/generations",
        headers={"Authorization": f"Bearer {FAM_KEY}"},
        json={"model": "nano-banana", "prompt": "x", "n": 99},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_value"
    with client_for(fsim) as client:
        call_request = ImageGenerationRequest(model="nano-banana", prompt="x", size="16x16")
        object.__setattr__(call_request, "n", 99)  # bypass the client's own check
        with pytest.raises(InvalidRequestError, match="n must be"):
            client.generate_images(call_request)


def test_submit_answer_without_an_id_is_a_transport_error() -> None:
    from prefect_haoee.client.families import jobs

    request = ImageGenerationRequest(model="nano-banana", prompt="x")
    with pytest.raises(TransportError, match="without a job id"):
        jobs.job_handle(request, {"created": 1, "data": [{"url": "https://x/y.png"}]})


# -- the official openai client -----------------------------------------------------------


def _openai(fsim: SimulatorHandle, key: str = FAM_KEY) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=f"{fsim.base_url}/v1", max_retries=2)


def test_openai_client_generates_urls(fsim: SimulatorHandle) -> None:
    result = _openai(fsim).images.generate(
        model="doubao-seedream-4-5-251128", prompt="a harbour", size="2560x1440", n=1
    )
    assert result.created > 0 and result.data is not None
    url = result.data[0].url
    assert url is not None and url.startswith(fsim.base_url)
    with client_for(fsim) as client:
        image = client.download(url)
    assert (image.width, image.height) == (2560, 1440)
    assert fsim.stats()["billable_by_req_key"] == {"doubao-seedream-4-5-251128": 1}


def test_openai_client_generates_b64_json(fsim: SimulatorHandle) -> None:
    result = _openai(fsim).images.generate(
        model="nano-banana", prompt="a harbour", size="48x32", response_format="b64_json", n=2
    )
    assert result.data is not None and len(result.data) == 2
    data = base64.b64decode(result.data[0].b64_json or "")
    with Image.open(io.BytesIO(data)) as img:
        assert img.size == (48, 32)


def test_openai_client_sees_errors_and_retries_429(fsim: SimulatorHandle) -> None:
    post_script(fsim, {"images.generations:1": "429"})
    client = _openai(fsim)
    ok = client.with_options(timeout=10).images.generate(
        model="nano-banana", prompt="ok", size="16x16"
    )
    assert ok.data is not None and ok.data[0].url
    with pytest.raises(openai.BadRequestError) as info:
        client.images.generate(model="nano-banana", prompt="blocked-text", size="16x16")
    assert info.value.code == "content_policy_violation"
    with pytest.raises(openai.AuthenticationError):
        _openai(fsim, key="wrong").images.generate(model="nano-banana", prompt="x")
    stats = fsim.stats()
    assert stats["calls_by_code"]["50429"] == 1 and stats["billable_generations"] == 1
