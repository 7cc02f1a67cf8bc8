"""The typed client against the simulator over real HTTP (loopback, port 0)."""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image
from pydantic import SecretStr

from prefect_haoee.client import (
    AsyncHaoeeClient,
    AuthenticationError,
    ContentRejectedError,
    DownloadError,
    HaoeeClient,
    HaoeeSettings,
    InvalidRequestError,
    PollPolicy,
    RateLimitedError,
    ServerError,
    TaskExpiredError,
    TaskNotFoundError,
    TransportError,
    parse_request,
)
from prefect_haoee.simulator.config import SimulatorConfig
from prefect_haoee.simulator.server import run_simulator
from tests.support import SEED_EXAMPLE

pytestmark = pytest.mark.integration

KEY = "client-sim-key"
FAST_POLL = PollPolicy(initial_interval=0.02, factor=1.5, max_interval=0.1, timeout=10)


def settings(base_url: str, **kw: Any) -> HaoeeSettings:
    values: dict[str, Any] = {
        "api_key": SecretStr(KEY),
        "base_url": base_url,
        "backoff_base": 0.01,
        "backoff_max": 0.05,
        "retry_after_max": 0.05,
        "max_attempts": 3,
    }
    values.update(kw)
    return HaoeeSettings(**values)


@pytest.fixture
def simulated(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A simulator configured by the test's ``sim_config`` marker kwargs."""
    marker = request.node.get_closest_marker("sim_config")
    options: dict[str, Any] = {"api_keys": (KEY,), "latency_ms": 5, "latency_sigma": 0.0}
    if marker is not None:
        options.update(marker.kwargs)
    with run_simulator(SimulatorConfig(**options)) as handle:
        yield handle


def t2i(**kw: Any) -> Any:
    return parse_request({"req_key": "high_aes_general_v20_L", "prompt": "a kite", "seed": 3, **kw})


def async_t2i(**kw: Any) -> Any:
    return parse_request({"req_key": "high_aes_general_v20", "prompt": "a boat", "seed": 4, **kw})


def test_every_action_and_download(simulated: Any) -> None:
    with HaoeeClient(settings(simulated.base_url), poll=FAST_POLL) as client:
        images = client.generate(parse_request(SEED_EXAMPLE))
        assert images.count == 1 and images.request_id
        image = client.download(images.urls[0])
        assert image.format == "PNG" and (image.width, image.height) == (1024, 1024)  # use_sr x2

        submitted = client.submit(async_t2i())
        assert submitted.task_id.isdigit()
        first = client.get_result(submitted.req_key, submitted.task_id)
        assert first.status in ("in_queue", "generating", "done")
        done = client.wait(submitted.req_key, submitted.task_id)
        assert client.download(done.urls[0]).width > 0
    stats = simulated.stats()
    assert stats["billable_generations"] == 2 and stats["duplicates"] == 0


def test_base64_mode(simulated: Any) -> None:
    with HaoeeClient(settings(simulated.base_url), poll=FAST_POLL) as client:
        images = client.generate(t2i(return_url=False, width=320, height=256, use_sr=False))
        assert images.urls == [] and len(images.base64) == 1
        with Image.open(io.BytesIO(base64.b64decode(images.base64[0]))) as img:
            assert img.size == (320, 256)
        submitted = client.submit(async_t2i())
        done = client.wait(submitted.req_key, submitted.task_id, return_url=False)
        assert done.base64 and client.download(done.sources()[0]).source == "base64"


def test_same_request_same_bytes(simulated: Any) -> None:
    with HaoeeClient(settings(simulated.base_url)) as client:
        a = client.download(client.generate(t2i()).urls[0])
        b = client.download(client.generate(t2i()).urls[0])
        c = client.download(client.generate(t2i(seed=99)).urls[0])
    assert a.sha256 == b.sha256 != c.sha256
    assert simulated.stats()["duplicates"] == 1  # the ledger notices the second payment


def test_wrong_key(simulated: Any) -> None:
    bad = settings(simulated.base_url, api_key=SecretStr("nope"))
    with HaoeeClient(bad) as client, pytest.raises(AuthenticationError) as info:
        client.generate(t2i())
    assert "nope" not in str(info.value)
    assert simulated.stats()["billable_generations"] == 0


def test_raw_key_auth(simulated: Any) -> None:
    with HaoeeClient(settings(simulated.base_url, auth_scheme="")) as client:
        assert client.generate(t2i()).count == 1


@pytest.mark.sim_config(fault_script={"CVProcess:1": "429", "CVProcess:2": "500"})
def test_429_and_500_are_retried(simulated: Any) -> None:
    with HaoeeClient(settings(simulated.base_url)) as client:
        assert client.generate(t2i()).count == 1
    stats = simulated.stats()
    assert stats["calls_by_action"]["CVProcess"] == 3 and stats["billable_generations"] == 1


@pytest.mark.sim_config(fault_rates={"429": 1.0})
def test_429_exhausts_bounded_attempts(simulated: Any) -> None:
    with (
        HaoeeClient(settings(simulated.base_url)) as client,
        pytest.raises(RateLimitedError) as info,
    ):
        client.generate(t2i())
    assert info.value.retry_after is not None and info.value.retry_after > 0
    assert simulated.stats()["calls_by_action"]["CVProcess"] == 3


@pytest.mark.parametrize(
    ("fault", "exc"),
    [
        ("50501", ServerError),
        ("drop", TransportError),
        ("50511", ContentRejectedError),
    ],
)
def test_forced_faults_map_to_errors(fault: str, exc: type[Exception]) -> None:
    script = {f"CVProcess:{i}": fault for i in range(1, 4)}
    config = SimulatorConfig(api_keys=(KEY,), latency_ms=1, fault_script=script)
    with run_simulator(config) as faulty:
        with HaoeeClient(settings(faulty.base_url)) as client, pytest.raises(exc):
            client.generate(t2i())
        calls = faulty.stats()["calls_by_action"]["CVProcess"]
    # 50511 is never resent with the same seed by the client
    assert calls == (1 if fault == "50511" else 3)


@pytest.mark.sim_config(fault_script={"CVProcess:1": "slow"}, slow_response_s=1.0)
def test_slow_answer_times_out_then_is_retried(simulated: Any) -> None:
    # The first answer would come after 1 s; with a 0.3 s read timeout it is a transport
    # error, retried, and the second call answers at once.
    with HaoeeClient(settings(simulated.base_url, read_timeout=0.3)) as client:
        assert client.generate(t2i()).count == 1
    stats = simulated.stats()
    assert stats["faults_injected"].get("slow") == 1 and stats["billable_generations"] == 1


def test_moderation_words_are_refused_once(simulated: Any) -> None:
    with (
        HaoeeClient(settings(simulated.base_url)) as client,
        pytest.raises(ContentRejectedError) as info,
    ):
        client.generate(t2i(prompt="a copyright-word poster"))
    assert info.value.code == 50413 and not info.value.retryable
    assert simulated.stats()["calls_by_action"]["CVProcess"] == 1


def test_invalid_request_is_not_retried(simulated: Any) -> None:
    # An async-only model through CVProcess: the simulator's own checks refuse it.
    with HaoeeClient(settings(simulated.base_url)) as client, pytest.raises(InvalidRequestError):
        client.generate(async_t2i())
    assert simulated.stats()["calls_total"] == 1


def test_task_lifecycle_not_found_and_expired(simulated: Any) -> None:
    with HaoeeClient(settings(simulated.base_url), poll=FAST_POLL) as client:
        with pytest.raises(TaskNotFoundError):
            client.wait("high_aes_general_v20", "1234567890123456789")
        submitted = client.submit(async_t2i())
        simulated.advance_clock(13 * 3600)
        with pytest.raises(TaskExpiredError):
            client.wait(submitted.req_key, submitted.task_id)


@pytest.mark.sim_config(async_latency_ms=60_000, fault_rates={"task_fail": 0.0})
def test_poll_deadline(simulated: Any) -> None:
    from prefect_haoee.client import TaskTimeoutError

    with HaoeeClient(settings(simulated.base_url), poll=FAST_POLL) as client:
        submitted = client.submit(async_t2i())
        with pytest.raises(TaskTimeoutError):
            client.wait(submitted.req_key, submitted.task_id, timeout=0.2)


@pytest.mark.sim_config(fault_rates={"expired_url": 1.0})
def test_expired_url(simulated: Any) -> None:
    with HaoeeClient(settings(simulated.base_url)) as client:
        url = client.generate(t2i()).urls[0]
        with pytest.raises(DownloadError, match="expired"):
            client.download(url)


@pytest.mark.sim_config(qps=5, latency_ms=0)
def test_qps_cap_answers_429_with_retry_after(simulated: Any) -> None:
    async def burst() -> list[int]:
        async with httpx.AsyncClient(base_url=simulated.base_url) as http:
            answers = await asyncio.gather(
                *[
                    http.post(
                        "/volcv/v1",
                        params={"Action": "CVProcess", "Version": "2022-08-31"},
                        headers={"Authorization": f"Bearer {KEY}"},
                        json={"req_key": "high_aes_general_v20_L", "prompt": f"x{i}", "seed": i},
                    )
                    for i in range(12)
                ]
            )
        limited = [a for a in answers if a.status_code == 429]
        assert all(a.headers.get("Retry-After") for a in limited)
        return [a.json()["code"] for a in answers]

    codes = asyncio.run(burst())
    assert codes.count(10000) == 5 and codes.count(50429) == 7


@pytest.mark.sim_config(concurrency=2, latency_ms=200)
def test_async_client_under_concurrency_cap_gets_everything(simulated: Any) -> None:
    async def many() -> int:
        async with AsyncHaoeeClient(settings(simulated.base_url, max_attempts=10)) as client:
            results = await asyncio.gather(*[client.generate(t2i(seed=i)) for i in range(6)])
        return sum(r.count for r in results)

    assert asyncio.run(many()) == 6
    stats = simulated.stats()
    assert stats["concurrency_peak"] <= 2 + 4  # refused calls count while answered
    assert stats["billable_generations"] == 6 and stats["calls_by_code"].get("50430", 0) > 0
