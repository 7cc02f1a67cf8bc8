"""Billing: one entry per accepted generation, none for refused or faulted calls; duplicates."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
import pytest

from prefect_haoee.simulator import request_hash
from tests.simulator.support import Gateway, code_of, t2i_body


def canonical_hash(body: dict[str, Any]) -> str:
    data = {k: v for k, v in body.items() if k != "return_url"}
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_one_entry_per_accepted_generation(gw: Gateway) -> None:
    accepted = [t2i_body(seed=1), t2i_body(seed=2, prompt="水墨山水")]
    for body in accepted:
        assert code_of(gw.process(body)) == 10000
    submitted = t2i_body(seed=3)
    task_id = gw.submit(submitted).json()["data"]["task_id"]
    for _ in range(3):
        gw.poll("high_aes_general_v20_L", task_id)

    # refused or faulted: never billed
    assert code_of(gw.process(t2i_body(width=5000))) == 50200
    assert code_of(gw.process(t2i_body(), key="bad")) == 50400
    assert code_of(gw.process(t2i_body(prompt="copyright-word"))) == 50413
    for fault in ("500", "50501", "429", "50511"):
        gw.process(t2i_body(), fault=fault)
    with pytest.raises(httpx.TransportError):
        gw.process(t2i_body(), fault="drop")

    stats = gw.stats()
    assert stats["billable_generations"] == 3
    assert stats["billable_by_req_key"] == {"high_aes_general_v20_L": 3}
    assert stats["calls_by_action"]["CVSync2AsyncGetResult"] == 3
    entries = gw.handle.ledger()
    assert [e["action"] for e in entries] == ["CVProcess", "CVProcess", "CVSync2AsyncSubmitTask"]
    assert [e["hash"] for e in entries] == [canonical_hash(b) for b in [*accepted, submitted]]
    assert [e["seed"] for e in entries] == [1, 2, 3]
    assert entries[2]["task_id"] == task_id
    assert all(e["req_key"] == "high_aes_general_v20_L" for e in entries)
    assert all(isinstance(e["time"], float) for e in entries)


def test_duplicates(gw: Gateway) -> None:
    fixed = t2i_body(seed=9)
    gw.process(fixed)
    gw.process({**fixed, "return_url": False})  # delivery option: same hash
    task_id = gw.submit(fixed).json()["data"]["task_id"]
    assert task_id
    random_seed = t2i_body(seed=-1)
    gw.process(random_seed)
    gw.process(random_seed)
    stats = gw.stats()
    assert stats["billable_generations"] == 5
    assert stats["duplicates"] == 2
    assert stats["duplicates_random_seed"] == 1


def test_reset_clears_the_ledger(gw: Gateway) -> None:
    gw.process(t2i_body())
    assert gw.stats()["billable_generations"] == 1
    gw.handle.reset()
    stats = gw.stats()
    assert stats["billable_generations"] == 0
    assert stats["calls_by_action"] == {}
    assert gw.handle.ledger() == []


def test_hash_matches_the_client_request_hash() -> None:
    """The ledger hash equals ``VisualRequest.request_hash`` for a body from ``to_body()``."""
    general = pytest.importorskip("prefect_haoee.client.requests.general")
    model = general.HighAesIpV20(prompt="千军万马", image_urls=["https://xxx"], seed=5)
    body = model.to_body()
    assert request_hash(body) == model.request_hash
    assert request_hash(json.loads(json.dumps(body))) == model.request_hash
