"""Per-key QPS and concurrency caps: a burst above the cap gets 429 with Retry-After."""

from __future__ import annotations

import asyncio

import httpx

from tests.simulator.support import API_KEY, VERSION, code_of, gateway, t2i_body


def test_qps_cap() -> None:
    with gateway(qps=3) as gw:
        codes = [code_of(gw.process(t2i_body(seed=i))) for i in range(5)]
        assert codes[:3] == [10000, 10000, 10000]
        assert codes[3:] == [50429, 50429]
        refused = gw.process(t2i_body())
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1
        # GetResult counts against the same cap
        assert code_of(gw.poll("high_aes_general_v20_L", "1")) == 50429
        stats = gw.stats()
        assert stats["peak_qps"] == 3
        assert stats["billable_generations"] == 3
        # one simulated second later the window is free again
        gw.handle.advance_clock(1.01)
        assert code_of(gw.process(t2i_body())) == 10000


def test_qps_cap_is_per_key() -> None:
    with gateway(qps=1, api_keys=(API_KEY, "second-key")) as gw:
        assert code_of(gw.process(t2i_body())) == 10000
        assert code_of(gw.process(t2i_body())) == 50429
        assert code_of(gw.process(t2i_body(), key="second-key")) == 10000


async def test_concurrency_cap() -> None:
    with gateway(concurrency=2, latency_ms=800) as gw:
        url = f"{gw.handle.base_url}/volcv/v1"
        params = {"Action": "CVProcess", "Version": VERSION}
        headers = {"Authorization": f"Bearer {API_KEY}"}
        async with httpx.AsyncClient(timeout=10) as client:

            async def call(seed: int) -> httpx.Response:
                return await client.post(
                    url, params=params, headers=headers, json=t2i_body(seed=seed)
                )

            held = [asyncio.create_task(call(i)) for i in range(2)]
            for _ in range(200):  # until both calls are in flight
                stats = (await client.get(f"{gw.handle.base_url}/_sim/stats")).json()
                if stats["concurrency_current"] == 2:
                    break
                await asyncio.sleep(0.005)
            else:
                raise AssertionError("the two calls never were in flight together")
            refused = await call(99)
            assert refused.status_code == 429
            assert refused.json()["code"] == 50430
            assert refused.headers["Retry-After"] == "1"
            done = await asyncio.gather(*held)
            assert [r.json()["code"] for r in done] == [10000, 10000]
            after = await call(100)
            assert after.json()["code"] == 10000
        stats = gw.stats()
        assert stats["concurrency_peak"] == 2
        assert stats["concurrency_current"] == 0
        assert stats["billable_generations"] == 3
