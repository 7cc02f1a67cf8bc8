"""A manifest planted in the bucket does not break the campaign: it is ignored and replaced.

The manifest is this package's output, not its input. Whoever can write the bucket can put
anything at a run's ``manifest.json``: nested 5,000 deep, a million items, ``null`` items,
ints where strings go, a naive ``written_at``, an infinite cost, a document over the size
cap, or well-formed entries that claim the campaign's images are done elsewhere. Measured
before the fix: the run and its rerun exited 1 and the planted file was never replaced.

A planted document before the first run (which reads the manifest at its key for double
payments) and, case by case, before a rerun (which also reads it for the records of the
images already stored): every run completes, the first pays for every image, the reruns
pay nothing, each read logs that it ignored the planted file, and the manifest at the key
afterwards is the run's own.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from prefect_haoee.flows import manifest as manifest_module
from tests.reliability.support import campaign_doc, list_keys, prompt, read_json, run_doc

pytestmark = pytest.mark.reliability

DAY = date(2026, 8, 8)
IMAGES = 3


def _entry(**overrides: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "request_hash": "0" * 64,
        "prompt_id": "p0",
        "variant": 0,
        "req_key": "high_aes_general_v20_L",
        "mode": "sync",
        "params": {},
        "seed": 1,
        "status": "done",
        "key": "elsewhere/x.png",
        "sha256": "1" * 64,
        "cost_units": 1,
    }
    entry.update(overrides)
    return entry


def _doc(items: Any, **overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "campaign": "planted",
        "run_date": DAY.isoformat(),
        "written_at": "2099-01-01T00:00:00+00:00",
        "bucket": "b",
        "total": 1,
        "done": 1,
        "failed": 0,
        "items": items,
    }
    doc.update(overrides)
    return doc


def _planted(case: str, hashes: list[str]) -> bytes:
    """The bytes planted at the manifest key for ``case``."""
    if case == "deep":
        return b'{"items": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    if case == "million":
        return (
            b'{"written_at": "2099-01-01T00:00:00+00:00", "items": [' + b"{}," * 999_999 + b"{}]}"
        )
    if case == "null-items":
        return json.dumps(_doc(None)).encode()
    if case == "null-item":
        return json.dumps(_doc([None, _entry()])).encode()
    if case == "ints":
        return json.dumps(_doc([_entry(request_hash=5, prompt_id=7, key=9)])).encode()
    if case == "naive-time":
        return json.dumps(_doc([_entry()], written_at="2099-01-01T00:00:00")).encode()
    if case == "infinite-cost":
        return json.dumps(_doc([_entry(request_hash=h, cost_units=1e400) for h in hashes])).encode()
    if case == "not-json":
        return b"\xff\xfe not json at all"
    if case == "over-cap":
        return json.dumps(_doc([_entry(request_hash=h) for h in hashes])).encode()
    if case == "forged-done":  # well-formed: claims the images are done, at other keys
        return json.dumps(_doc([_entry(request_hash=h, cost_units=9) for h in hashes])).encode()
    raise AssertionError(case)


CASES = [
    "deep",
    "million",
    "null-items",
    "null-item",
    "ints",
    "naive-time",
    "infinite-cost",
    "not-json",
    "over-cap",
    "forged-done",
]


def _ignored(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "ignoring the manifest" in r.getMessage()]


def test_a_planted_manifest_is_ignored_logged_and_replaced(
    prefect_server: str,
    sim: Any,
    s3_bucket: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = "planted"
    prompts = [prompt(f"p{i}", f"a lighthouse, planted {i}") for i in range(IMAGES)]
    doc = campaign_doc(name, s3_bucket.bucket_name, prompts)
    s3 = s3_bucket.credentials.get_s3_client()
    key = f"campaigns/{name}/{DAY.isoformat()}/manifest.json"
    caplog.set_level("WARNING", logger="prefect_haoee.flows")

    # The first run reads the manifest at its key for double payments only (nothing is
    # stored yet): an infinite cost there made it fail after paying.
    s3.put_object(Bucket=s3_bucket.bucket_name, Key=key, Body=_planted("infinite-cost", ["f" * 64]))
    state, result = run_doc(tmp_path, doc, DAY, s3_bucket)
    assert state.is_completed(), state.message
    assert result.done == IMAGES and result.manifest_key == key
    assert sim.stats()["billable_generations"] == IMAGES
    assert len(_ignored(caplog)) == 1, _ignored(caplog)
    manifest = read_json(s3, s3_bucket.bucket_name, key)
    assert manifest["campaign"] == name and len(manifest["items"]) == IMAGES
    assert manifest["paid_twice"] == 0
    hashes = [item["request_hash"] for item in manifest["items"]]

    # Each rerun finds the images stored and reads the manifest for their records and for
    # double payments: planted (naming the real request hashes where it has entries), it
    # is ignored, nothing is paid, and the run's own manifest replaces it.
    for case in CASES:
        caplog.clear()
        with monkeypatch.context() as patch:
            if case == "over-cap":
                patch.setattr(manifest_module, "MANIFEST_MAX_BYTES", 200)
            s3.put_object(Bucket=s3_bucket.bucket_name, Key=key, Body=_planted(case, hashes))
            state, result = run_doc(tmp_path, doc, DAY, s3_bucket)
        assert state.is_completed(), (case, state.message)
        assert result.done == IMAGES and result.paid_calls == 0, case
        assert sim.stats()["billable_generations"] == IMAGES, case
        images = set(list_keys(s3, s3_bucket.bucket_name, f"campaigns/{name}/"))
        assert {r.key for r in result.records} <= images, (case, result.records)
        ignored = _ignored(caplog)
        if case == "forged-done":  # well-formed: read, its keys not taken for the images
            assert not ignored, ignored
        else:
            assert len(ignored) == 2, (case, ignored)  # the records' read, the payments' read
            assert all("this run writes a fresh one" in m for m in ignored), ignored
        manifest = read_json(s3, s3_bucket.bucket_name, key)
        assert manifest["campaign"] == name and len(manifest["items"]) == IMAGES, case
        assert {item["key"] for item in manifest["items"]} <= images, case
        assert manifest["paid_twice"] == 0, case
