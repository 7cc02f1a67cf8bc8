"""Forced faults (X-Sim-Fault), moderation words, and seeded fault rates."""

from __future__ import annotations

import contextlib

import httpx
import pytest

from tests.simulator.support import (
    CV_PROCESS,
    GET_RESULT,
    SUBMIT,
    Gateway,
    code_of,
    gateway,
    t2i_body,
)


@pytest.mark.parametrize(
    ("fault", "http_status", "code"),
    [
        ("50429", 429, 50429),
        ("429", 429, 50429),
        ("50430", 429, 50430),
        ("500", 500, 50500),
        ("50500", 500, 50500),
        ("50501", 500, 50501),
        ("50511", 400, 50511),
        ("50413", 400, 50413),
        ("50412", 400, 50412),
    ],
)
def test_forced_error_faults(gw: Gateway, fault: str, http_status: int, code: int) -> None:
    response = gw.process(t2i_body(), fault=fault)
    assert response.status_code == http_status
    body = response.json()
    assert body["code"] == code and body["status"] == code
    assert body["data"] is None
    if http_status == 429:
        assert response.headers["Retry-After"] == "1"
    else:
        assert "Retry-After" not in response.headers
    stats = gw.stats()
    assert stats["billable_generations"] == 0
    assert stats["calls_by_code"] == {str(code): 1}


@pytest.mark.parametrize("action", [CV_PROCESS, SUBMIT, GET_RESULT])
def test_drop_is_a_transport_error(gw: Gateway, action: str) -> None:
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        gw.call(action, t2i_body(), fault="drop")
    stats = gw.stats()
    assert stats["calls_by_code"] == {"drop": 1}
    assert stats["billable_generations"] == 0
    # the server is fine afterwards
    assert code_of(gw.process(t2i_body())) == 10000


def test_slow_exceeds_client_timeout(gw: Gateway) -> None:
    with pytest.raises(httpx.ReadTimeout):
        gw.process(t2i_body(), fault="slow", timeout=0.1)
    assert gw.stats()["billable_generations"] == 0


def test_slow_then_answers_500_to_a_patient_client(gw: Gateway) -> None:
    response = gw.process(t2i_body(), fault="slow", timeout=5)
    assert response.status_code == 500
    assert code_of(response) == 50500


def test_moderation_words(gw: Gateway) -> None:
    assert code_of(gw.process(t2i_body(prompt="a COPYRIGHT-WORD logo"))) == 50413
    assert code_of(gw.process(t2i_body(prompt="some blocked-text here"))) == 50412
    ip = {"req_key": "high_aes_ip_v20", "prompt": "p", "image_urls": ["https://x/blocked-image"]}
    response = gw.process(ip)
    assert response.status_code == 400
    assert code_of(response) == 50411
    assert code_of(gw.submit(t2i_body(prompt="copyright-word"))) == 50413
    assert gw.stats()["billable_generations"] == 0


def test_forced_task_fail_is_billed_and_ends_done_with_error(gw: Gateway) -> None:
    for fault, code in (("task_fail", 50501), ("50511", 50511)):
        submitted = gw.submit(t2i_body(), fault=fault)
        assert code_of(submitted) == 10000
        task_id = submitted.json()["data"]["task_id"]
        polled = gw.poll("high_aes_general_v20_L", task_id)
        body = polled.json()
        assert body["code"] == code
        assert body["data"]["status"] == "done"
        assert body["data"]["image_urls"] is None
    stats = gw.stats()
    assert stats["billable_generations"] == 2
    assert stats["tasks_by_status"]["failed"] == 2


def test_forced_expired_url(gw: Gateway) -> None:
    url = gw.process(t2i_body(), fault="expired_url").json()["data"]["image_urls"][0]
    response = httpx.get(url)
    assert response.status_code == 403
    assert response.json()["error"] == "expired"
    # the generation itself succeeded and was billed
    assert gw.stats()["billable_generations"] == 1


def _outcomes(gw: Gateway, n: int, *, poll_between: bool = False) -> list[str]:
    outcomes: list[str] = []
    for i in range(n):
        try:
            outcomes.append(str(code_of(gw.process(t2i_body(seed=i)))))
        except httpx.TransportError:
            outcomes.append("drop")
        if poll_between:
            # GetResult draws from its own stream: it must not shift CVProcess outcomes
            with contextlib.suppress(httpx.TransportError):
                gw.poll("high_aes_general_v20_L", "1234567890123456789")
    return outcomes


def test_fault_rates_are_reproducible_with_a_seed() -> None:
    rates = {"429": 0.15, "500": 0.1, "50501": 0.1, "50511": 0.1, "drop": 0.05}
    with gateway(fault_rates=rates, seed=42) as gw:
        first = _outcomes(gw, 40)
        gw.handle.reset(seed=42)
        second = _outcomes(gw, 40, poll_between=True)
        gw.handle.reset(seed=43)
        third = _outcomes(gw, 40)
    assert first == second
    assert first != third
    assert {"10000", "50429", "50500", "50501", "50511", "drop"} <= set(first)
    assert first.count("10000") >= 10


def test_rate_faults_are_not_billed() -> None:
    with gateway(fault_rates={"500": 0.5}, seed=1) as gw:
        outcomes = _outcomes(gw, 20)
        stats = gw.stats()
    assert stats["billable_generations"] == outcomes.count("10000")
    assert stats["faults_injected"]["50500"] == outcomes.count("50500")


def test_fault_script_hits_exact_calls() -> None:
    import httpx

    from prefect_haoee.simulator.config import SimulatorConfig
    from prefect_haoee.simulator.server import run_simulator

    config = SimulatorConfig(
        api_keys=("k",),
        latency_ms=0,
        fault_script={"CVProcess:2": "429", "CVProcess:3": "50511"},
    )
    body = {"req_key": "high_aes_general_v20_L", "prompt": "x", "seed": 1}
    with run_simulator(config) as sim, httpx.Client(base_url=sim.base_url) as http:
        codes = [
            http.post(
                "/volcv/v1",
                params={"Action": "CVProcess", "Version": "2022-08-31"},
                headers={"Authorization": "Bearer k"},
                json=body,
            ).json()["code"]
            for _ in range(4)
        ]
    assert codes == [10000, 50429, 50511, 10000]
