"""Async task lifecycle, not_found / expired, and result URL expiry."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.simulator.support import Gateway, code_of, gateway, t2i_body

REQ_KEY = "high_aes_general_v20_L"


@pytest.fixture(scope="module")
def slow_tasks() -> Iterator[Gateway]:
    """Tasks take exactly 10 s (3 s in_queue); only the simulated clock moves them."""
    with gateway(async_latency_ms=10_000, queue_fraction=0.3, task_ttl_s=3600) as gw:
        yield gw


def _status(gw: Gateway, task_id: str) -> str:
    response = gw.poll(REQ_KEY, task_id)
    assert code_of(response) == 10000
    status: str = response.json()["data"]["status"]
    return status


def test_lifecycle_on_the_simulated_clock(slow_tasks: Gateway) -> None:
    gw = slow_tasks
    gw.handle.reset()
    task_id = gw.submit(t2i_body()).json()["data"]["task_id"]
    body = gw.poll(REQ_KEY, task_id).json()
    assert body["data"] == {"binary_data_base64": None, "image_urls": None, "status": "in_queue"}
    assert gw.stats()["tasks_by_status"]["in_queue"] == 1
    gw.handle.advance_clock(3.5)
    assert _status(gw, task_id) == "generating"
    gw.handle.advance_clock(7)
    assert _status(gw, task_id) == "done"
    stats = gw.stats()
    assert stats["tasks_by_status"]["done"] == 1
    assert stats["billable_generations"] == 1  # polls are free


def test_expired_then_not_found(slow_tasks: Gateway) -> None:
    gw = slow_tasks
    gw.handle.reset()
    task_id = gw.submit(t2i_body()).json()["data"]["task_id"]
    gw.handle.advance_clock(3601)
    assert _status(gw, task_id) == "expired"
    assert gw.stats()["tasks_by_status"]["expired"] == 1
    gw.handle.advance_clock(3600)
    assert _status(gw, task_id) == "not_found"


def test_unknown_task_and_wrong_req_key(gw: Gateway) -> None:
    assert _status(gw, "7392616336519610409") == "not_found"
    task_id = gw.submit(t2i_body()).json()["data"]["task_id"]
    other = gw.poll("jimeng_t2i_v40", task_id).json()
    assert other["data"]["status"] == "not_found"


def test_default_task_ttl_is_12h(gw: Gateway) -> None:
    task_id = gw.submit(t2i_body()).json()["data"]["task_id"]
    gw.handle.advance_clock(12 * 3600 - 5)
    assert _status(gw, task_id) == "done"
    gw.handle.advance_clock(10)
    assert _status(gw, task_id) == "expired"


def test_lifecycle_in_real_time() -> None:
    """A tiny real latency: polling sees in_queue, then generating, then done."""
    with gateway(async_latency_ms=300, queue_fraction=0.3) as gw:
        task_id = gw.submit(t2i_body()).json()["data"]["task_id"]
        seen: list[str] = []
        for _ in range(400):  # bounded: 400 x 5 ms = 2 s, far beyond the 0.3 s latency
            status = _status(gw, task_id)
            if not seen or seen[-1] != status:
                seen.append(status)
            if status == "done":
                break
            time.sleep(0.005)
        assert seen == ["in_queue", "generating", "done"]


def test_result_url_expires(gw: Gateway) -> None:
    url = gw.process(t2i_body()).json()["data"]["image_urls"][0]
    assert httpx.get(url).status_code == 200
    gw.handle.advance_clock(24 * 3600 + 1)
    expired = httpx.get(url)
    assert expired.status_code == 403
    assert "expired" in expired.json()["message"]
    assert httpx.get(f"{gw.handle.base_url}/files/nope.png").status_code == 404
    stats = gw.stats()
    assert stats["files_served"] == 1
    assert stats["files_expired_hits"] == 1


def test_tiny_url_ttl() -> None:
    with gateway(url_ttl_s=60) as gw:
        task_id = gw.submit(t2i_body()).json()["data"]["task_id"]
        url = gw.poll(REQ_KEY, task_id).json()["data"]["image_urls"][0]
        assert httpx.get(url).status_code == 200
        gw.handle.advance_clock(61)
        assert httpx.get(url).status_code == 403


def test_expired_url_rate() -> None:
    with gateway(fault_rates={"expired_url": 1.0}) as gw:
        url = gw.process(t2i_body()).json()["data"]["image_urls"][0]
        assert httpx.get(url).status_code == 403
        assert gw.stats()["faults_injected"]["expired_url"] == 1


def test_task_fail_rate_uses_configured_codes() -> None:
    with gateway(fault_rates={"task_fail": 1.0}, task_fail_codes=(50511,)) as gw:
        task_id = gw.submit(t2i_body()).json()["data"]["task_id"]
        response = gw.poll(REQ_KEY, task_id)
        assert response.status_code == 400
        assert response.json()["code"] == 50511
        assert response.json()["data"]["status"] == "done"
        assert gw.stats()["billable_generations"] == 1
