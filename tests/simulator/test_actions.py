"""Every action, on the Haoee path and on the upstream path, with the exact envelopes."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import httpx
import pytest

from tests.simulator.support import (
    API_KEY,
    CV_PROCESS,
    GET_RESULT,
    SUBMIT,
    Gateway,
    code_of,
    decode_b64_image,
    open_image,
    t2i_body,
)
from tests.support import SEED_EXAMPLE

REQUEST_ID = re.compile(r"^\d{14}[0-9A-F]{20}$")
GO_DURATION = re.compile(r"^(\d+(\.\d+)?(ns|µs|ms|s)|(\d+h)?(\d+m)?\d+(\.\d+)?s)$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")


def assert_envelope(body: dict[str, Any], code: int = 10000) -> None:
    assert set(body) == {"code", "data", "message", "request_id", "status", "time_elapsed"}
    assert body["code"] == code
    assert body["status"] == code
    assert len(body["request_id"]) == 34
    assert REQUEST_ID.match(body["request_id"])
    assert GO_DURATION.match(body["time_elapsed"]), body["time_elapsed"]
    if code != 10000 and body["data"] is not None:
        assert body["data"]["status"] == "done"


@pytest.mark.parametrize("path", ["/volcv/v1", "/"])
def test_cv_process_url_mode(gw: Gateway, path: str) -> None:
    response = gw.process(t2i_body(), path=path)
    assert response.status_code == 200
    body = response.json()
    assert_envelope(body)
    assert body["message"] == "Success"
    data = body["data"]
    assert data["algorithm_base_resp"] == {"status_code": 0, "status_message": "Success"}
    assert data["binary_data_base64"] == []
    assert HEX64.match(data["request_id"])
    for extra in ("pe_result", "predict_tags_result", "rephraser_result"):
        assert data[extra] == ""
    (url,) = data["image_urls"]
    assert url.startswith(gw.handle.base_url + "/files/")
    image = httpx.get(url)
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    assert open_image(image.content).size == (512, 512)


@pytest.mark.parametrize("path", ["/volcv/v1", "/"])
def test_submit_and_get_result(gw: Gateway, path: str) -> None:
    submitted = gw.submit(t2i_body(), path=path)
    assert submitted.status_code == 200
    assert_envelope(submitted.json())
    task_id = submitted.json()["data"]["task_id"]
    assert isinstance(task_id, str) and re.fullmatch(r"[1-9]\d{18}", task_id)

    polled = gw.poll("high_aes_general_v20_L", task_id, return_url=True, path=path)
    assert polled.status_code == 200
    body = polled.json()
    assert_envelope(body)
    assert body["data"]["status"] == "done"
    assert body["data"]["binary_data_base64"] is None
    (url,) = body["data"]["image_urls"]
    assert open_image(httpx.get(url).content).size == (512, 512)
    # the same link on every poll
    again = gw.poll("high_aes_general_v20_L", task_id, return_url=True, path=path)
    assert again.json()["data"]["image_urls"] == [url]


def test_get_result_base64_by_default(gw: Gateway) -> None:
    task_id = gw.submit(t2i_body(width=640, height=384)).json()["data"]["task_id"]
    body = gw.poll("high_aes_general_v20_L", task_id, return_url=None).json()
    assert body["data"]["image_urls"] is None
    (b64,) = body["data"]["binary_data_base64"]
    assert decode_b64_image(b64).size == (640, 384)


def test_req_json_must_be_a_string(gw: Gateway) -> None:
    task_id = gw.submit(t2i_body()).json()["data"]["task_id"]
    body = {"req_key": "high_aes_general_v20_L", "task_id": task_id, "req_json": {"return_url": 1}}
    response = gw.call(GET_RESULT, body)
    assert response.status_code == 400
    assert code_of(response) == 50204
    assert response.json()["data"] is None


def test_base64_mode_has_requested_size(gw: Gateway) -> None:
    response = gw.process(t2i_body(width=768, height=256, use_sr=True, return_url=False))
    data = response.json()["data"]
    assert data["image_urls"] == []
    (b64,) = data["binary_data_base64"]
    image = decode_b64_image(b64)
    assert image.format == "PNG"
    assert image.size == (1536, 512)  # use_sr doubles


def test_default_size_from_catalog(gw: Gateway) -> None:
    body = {"req_key": "jimeng_t2i_v30", "prompt": "a cat", "seed": 3}
    task_id = gw.submit(body).json()["data"]["task_id"]
    (b64,) = gw.poll("jimeng_t2i_v30", task_id, return_url=False).json()["data"][
        "binary_data_base64"
    ]
    assert decode_b64_image(b64).size == (1328, 1328)


def test_same_request_same_bytes(gw: Gateway) -> None:
    body = t2i_body(prompt="same", seed=5, return_url=False)
    first = gw.process(body).json()["data"]["binary_data_base64"][0]
    second = gw.process(body).json()["data"]["binary_data_base64"][0]
    assert first == second
    other_seed = gw.process({**body, "seed": 6}).json()["data"]["binary_data_base64"][0]
    other_prompt = gw.process({**body, "prompt": "other"}).json()["data"]["binary_data_base64"][0]
    assert len({first, other_seed, other_prompt}) == 3
    # the same request through the async path gives the same picture
    task_id = gw.submit(body).json()["data"]["task_id"]
    polled = gw.poll("high_aes_general_v20_L", task_id, return_url=False).json()
    assert polled["data"]["binary_data_base64"] == [first]
    # and a result URL serves those bytes
    url = gw.process({**body, "return_url": True}).json()["data"]["image_urls"][0]
    assert httpx.get(url).content == base64.b64decode(first)


def test_random_seed_gives_new_images(gw: Gateway) -> None:
    body = t2i_body(seed=-1, return_url=False)
    first = gw.process(body).json()["data"]["binary_data_base64"][0]
    second = gw.process(body).json()["data"]["binary_data_base64"][0]
    assert first != second


def test_seed_example_body_curl_equivalent(gw: Gateway) -> None:
    """The body of the Haoee docs page, sent as its curl example sends it."""
    raw = json.dumps(SEED_EXAMPLE, ensure_ascii=False).encode("utf-8")
    response = gw.http.post(
        "/volcv/v1?Action=CVProcess&Version=2022-08-31",
        content=raw,
        headers={
            "Authorization": API_KEY,  # the raw key, as on the Haoee page
            "ModelName": "high_aes_ip_v20",
            "Content-Type": "application/json",
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert_envelope(body)
    (url,) = body["data"]["image_urls"]
    png = httpx.get(url)
    assert png.status_code == 200
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert open_image(png.content).size == (1024, 1024)  # 512 x 2 (use_sr)


def test_sdk_all_actions(gw: Gateway) -> None:
    from volcengine.visual.VisualService import VisualService

    service = VisualService()
    service.set_host(gw.handle.sdk_host)
    service.set_scheme("http")
    service.set_ak("any-ak")
    service.set_sk("any-sk")

    processed = service.cv_process(t2i_body(return_url=False))
    assert processed["code"] == 10000
    assert decode_b64_image(processed["data"]["binary_data_base64"][0]).size == (512, 512)

    submitted = service.cv_sync2async_submit_task({"req_key": "jimeng_t2i_v40", "prompt": "p"})
    assert submitted["code"] == 10000
    task_id = submitted["data"]["task_id"]
    result = service.cv_sync2async_get_result(
        {"req_key": "jimeng_t2i_v40", "task_id": task_id, "req_json": '{"return_url":true}'}
    )
    assert result["code"] == 10000
    assert result["data"]["status"] == "done"
    assert result["data"]["image_urls"][0].startswith("http://")

    # the SDK raises on non-200 with the error JSON in the message
    with pytest.raises(Exception, match="50200"):
        service.cv_process({"req_key": "no_such_model", "prompt": "p"})
    stats = gw.stats()
    assert stats["calls_by_action"][CV_PROCESS] == 2
    assert stats["calls_by_action"][SUBMIT] == 1
    assert stats["calls_by_action"][GET_RESULT] == 1


def test_model_name_header_ignored(gw: Gateway) -> None:
    response = gw.process(t2i_body(), headers={"ModelName": "anything"})
    assert code_of(response) == 10000


def test_stats_and_config_endpoints(gw: Gateway) -> None:
    gw.process(t2i_body())
    stats = gw.stats()
    for key in (
        "calls_by_action",
        "calls_by_code",
        "billable_generations",
        "duplicates",
        "duplicates_random_seed",
        "concurrency_current",
        "concurrency_peak",
        "peak_qps",
        "tasks_by_status",
    ):
        assert key in stats
    assert stats["calls_by_code"] == {"10000": 1}
    config = gw.http.get("/_sim/config").json()
    assert API_KEY not in json.dumps(config)
