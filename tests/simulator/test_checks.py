"""Auth and the simulator's own request checks (HTTP status + code of each refusal)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.simulator.support import (
    API_KEY,
    CV_PROCESS,
    SUBMIT,
    TINY_PNG_B64,
    Gateway,
    code_of,
    t2i_body,
)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "wrong"}, {"Authorization": ""}],
)
def test_auth_failure(gw: Gateway, headers: dict[str, str]) -> None:
    response = gw.http.post(
        "/volcv/v1",
        params={"Action": CV_PROCESS, "Version": "2022-08-31"},
        json=t2i_body(),
        headers=headers,
    )
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == 50400 and body["status"] == 50400
    assert body["data"] is None
    assert API_KEY not in response.text
    assert gw.stats()["billable_generations"] == 0


@pytest.mark.parametrize("auth", [f"Bearer {API_KEY}", API_KEY, f"bearer {API_KEY}"])
def test_auth_forms_accepted(gw: Gateway, auth: str) -> None:
    response = gw.process(t2i_body(), key=None, headers={"Authorization": auth})
    assert code_of(response) == 10000


def test_upstream_path_needs_no_key(gw: Gateway) -> None:
    response = gw.process(t2i_body(), path="/", key=None)
    assert code_of(response) == 10000


def test_missing_action(gw: Gateway) -> None:
    response = gw.http.post(
        "/volcv/v1", json=t2i_body(), headers={"Authorization": f"Bearer {API_KEY}"}
    )
    assert response.status_code == 400
    assert code_of(response) == 50201


def test_unknown_action_and_version(gw: Gateway) -> None:
    assert code_of(gw.call("CVNope", t2i_body())) == 50402
    response = gw.http.post(
        "/volcv/v1",
        params={"Action": CV_PROCESS, "Version": "2020-01-01"},
        json=t2i_body(),
        headers={"Authorization": f"Bearer {API_KEY}"},
    )
    assert response.status_code == 404
    assert code_of(response) == 50402


def _ip_body(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"req_key": "high_aes_ip_v20", "prompt": "p", "seed": 1}
    body.update(extra)
    return body


@pytest.mark.parametrize(
    ("action", "body", "code"),
    [
        (CV_PROCESS, {"prompt": "p"}, 50201),
        (CV_PROCESS, {"req_key": 3, "prompt": "p"}, 50204),
        (CV_PROCESS, {"req_key": "no_such_model", "prompt": "p"}, 50200),
        (CV_PROCESS, t2i_body(prompt=""), 50200),
        (CV_PROCESS, {"req_key": "high_aes_general_v20_L", "seed": 1}, 50201),
        (CV_PROCESS, t2i_body(width=1024), 50200),
        (CV_PROCESS, t2i_body(width=100), 50200),
        (CV_PROCESS, t2i_body(width="512"), 50204),
        (CV_PROCESS, t2i_body(seed=-2), 50200),
        (CV_PROCESS, {**t2i_body(), "seed": 1.5}, 50204),
        (CV_PROCESS, t2i_body(return_url="yes"), 50204),
        (CV_PROCESS, t2i_body(logo_info="none"), 50204),
        (CV_PROCESS, t2i_body(image_urls=["https://x/a.png"]), 50200),
        (CV_PROCESS, _ip_body(), 50206),
        (CV_PROCESS, _ip_body(image_urls=["https://x/a.png", "https://x/b.png"]), 50200),
        (CV_PROCESS, _ip_body(image_urls=["ftp://x/a.png"]), 50200),
        (CV_PROCESS, _ip_body(binary_data_base64=[f"data:image/png;base64,{TINY_PNG_B64}"]), 50207),
        (CV_PROCESS, _ip_body(binary_data_base64=["not base64!"]), 50207),
        (CV_PROCESS, _ip_body(binary_data_base64=["aGVsbG8="]), 50207),  # "hello": no image
        (CV_PROCESS, {"req_key": "jimeng_t2i_v40", "prompt": "p"}, 50200),  # async only
        (SUBMIT, {"req_key": "high_aes_ip_v20", "prompt": "p"}, 50200),  # sync only
        (SUBMIT, {"req_key": "jimeng_t2i_v40", "prompt": "p", "width": 2048}, 50200),
        (SUBMIT, {"req_key": "jimeng_t2i_v40", "prompt": "p", "size": 512 * 512}, 50200),
        (SUBMIT, {"req_key": "jimeng_image2image_dream_inpaint", "prompt": "x" * 121}, 50200),
    ],
)
def test_invalid_bodies(gw: Gateway, action: str, body: dict[str, Any], code: int) -> None:
    response = gw.call(action, body)
    assert response.status_code == 400, response.text
    assert code_of(response) == code, response.json()["message"]
    assert response.json()["data"] is None
    assert gw.stats()["billable_generations"] == 0


def test_base64_image_accepted(gw: Gateway) -> None:
    response = gw.process(_ip_body(binary_data_base64=[TINY_PNG_B64], return_url=False))
    assert code_of(response) == 10000
    # base64 wins over image_urls when both are given (count is taken from base64)
    both = _ip_body(binary_data_base64=[TINY_PNG_B64], image_urls=["https://a", "https://b"])
    assert code_of(gw.process(both)) == 10000


def test_not_json(gw: Gateway) -> None:
    response = gw.http.post(
        "/volcv/v1",
        params={"Action": CV_PROCESS},
        content=b"{not json",
        headers={"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert code_of(response) == 50200


def test_unknown_fault_header_is_refused(gw: Gateway) -> None:
    response = gw.process(t2i_body(), fault="explode")
    assert response.status_code == 400
    assert "X-Sim-Fault" in response.json()["message"]
