"""Retry layers must not multiply paid calls.

A hostile gateway on 127.0.0.1 (port 0) answers each paid call by the first word of its
prompt: a 200 whose body is not JSON, a dropped connection, a lying ``Content-Length``, a
success (code 10000: billed) without an image, a submit without a ``task_id``, and a 429
asking to wait 100,000 s. It counts every paid call it receives: that count is the ledger.

The rule, over the client's retries and Prefect's task retries together: a paid request is
sent at most ``HAOEE_MAX_ATTEMPTS`` times in one run; ``HAOEE_RESEND_UNANSWERED_PAID_CALLS=
false`` holds across task retries; a success answer is never resent (the item fails once,
naming the gateway's request id); an over-long ``Retry-After`` ends the item at once.

Measured before the fix (HAOEE_MAX_ATTEMPTS=4): non-JSON, drop and lying length 12 paid
calls each (4 client attempts x 3 task runs), with the resend setting false 3 each; no
image and no task_id 3 each; Retry-After 100000 12 (and minutes of sleeping).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.http_support import LoopbackServer, QuietHandler, serving
from tests.reliability.support import (
    ASYNC_MODEL,
    SYNC_MODEL,
    bucket_block,
    campaign_doc,
    client_env,
    prompt,
    run_doc,
    s3_client,
    set_env,
)

pytestmark = pytest.mark.reliability

DAY = date(2026, 4, 4)
PAID = ("CVProcess", "CVSync2AsyncSubmitTask")


class Gateway(LoopbackServer):
    def __init__(self) -> None:
        super().__init__(Handler)
        self.paid: Counter[str] = Counter()


class Handler(QuietHandler):
    server: Gateway

    def do_POST(self) -> None:
        body = self.read_json()
        action = self.path.split("Action=", 1)[-1].split("&", 1)[0]
        kind = str(body.get("prompt", "")).split()[0] if body.get("prompt") else "poll"
        if action in PAID:
            with self.server.lock:
                self.server.paid[kind] += 1
        if kind == "nonjson":
            self.answer(200, b"<html>upstream hiccup</html>")
        elif kind == "drop":
            self.close_connection = True  # read the request, answer nothing
        elif kind == "lying":
            self.head(200, "application/json", 5000)
            self.wfile.write(b'{"code": 10000, "da')
            self.close_connection = True
        elif kind == "noimage":
            self.answer_json(200, {"code": 10000, "data": {}, "request_id": "rid-noimage-1"})
        elif kind == "notask":
            answer = {"code": 10000, "data": {"status": "ok"}, "request_id": "rid-notask-1"}
            self.answer_json(200, answer)
        elif kind == "wait":
            answer = {"code": 50429, "message": "slow down", "request_id": "rid-wait"}
            self.answer_json(429, answer, {"Retry-After": "100000"})
        else:
            self.answer(404, b"{}")


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    with serving(Gateway(), "retry-layers") as server:
        yield server


KINDS = ("nonjson", "drop", "lying", "noimage", "notask", "wait")


def run_hostile(
    tag: str,
    gateway: Gateway,
    s3_server: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    **env: str,
) -> tuple[Any, Counter[str], float]:
    """One campaign, one item per hostile kind; the paid calls of each and the seconds."""
    bucket = f"rel-retry-{tag}"
    s3_client(s3_server).create_bucket(Bucket=bucket)
    prompts = [
        prompt(kind, f"{kind} {tag}", model=ASYNC_MODEL if kind == "notask" else SYNC_MODEL)
        for kind in KINDS
    ]
    doc = campaign_doc(f"retry-{tag}", bucket, prompts)
    fast = client_env(gateway.url, read_timeout=5)
    limits = {"HAOEE_MAX_ATTEMPTS": "4", "HAOEE_BACKOFF_MAX": "0.05", "HAOEE_RETRY_AFTER_MAX": "2"}
    set_env(monkeypatch, {**fast, **limits, **env})
    before = Counter(gateway.paid)
    started = time.monotonic()
    _, result = run_doc(tmp_path, doc, DAY, bucket_block(s3_server, bucket))
    seconds = time.monotonic() - started
    assert result.failed == len(KINDS) and result.done == 0
    paid = Counter({k: gateway.paid[k] - before[k] for k in KINDS})
    return result, paid, seconds


def test_a_paid_call_is_sent_at_most_max_attempts_times_over_all_layers(
    prefect_server: str,
    s3_server: str,
    gateway: Gateway,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    record_logs: None,
) -> None:
    result, paid, seconds = run_hostile("resend", gateway, s3_server, tmp_path, monkeypatch)
    print(f"\nretry layers (resend on): paid calls {dict(paid)} in {seconds:.1f}s")
    errors = {f.prompt_id: f.error for f in result.failures}
    # Unanswered: the client's 4 attempts, and no task retry on top.
    assert (paid["nonjson"], paid["drop"], paid["lying"]) == (4, 4, 4), paid
    # Billed but unusable: never resent; the error names the gateway's request id.
    assert (paid["noimage"], paid["notask"]) == (1, 1), paid
    assert "rid-noimage-1" in errors["noimage"] and "rid-notask-1" in errors["notask"]
    assert "not resent" in errors["noimage"], errors["noimage"]
    # Retry-After over the limit: one call, the item fails at once (no sleeping).
    assert paid["wait"] == 1, paid
    assert "Retry-After" in errors["wait"], errors["wait"]
    assert seconds < 60, seconds


def test_the_resend_setting_holds_across_task_retries(
    prefect_server: str,
    s3_server: str,
    gateway: Gateway,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    record_logs: None,
) -> None:
    result, paid, seconds = run_hostile(
        "noresend",
        gateway,
        s3_server,
        tmp_path,
        monkeypatch,
        HAOEE_RESEND_UNANSWERED_PAID_CALLS="false",
    )
    print(f"\nretry layers (resend off): paid calls {dict(paid)} in {seconds:.1f}s")
    assert (paid["nonjson"], paid["drop"], paid["lying"]) == (1, 1, 1), paid
    assert (paid["noimage"], paid["notask"], paid["wait"]) == (1, 1, 1), paid
    assert seconds < 60, seconds


def test_retries_are_jittered_at_both_layers() -> None:
    """13.13: task retries carry ``retry_jitter_factor``; the client's Retry-After wait
    gets a small jitter; the RetryPolicy docstring names the jitter the code draws."""
    import random

    from prefect_haoee.client.errors import RateLimitedError
    from prefect_haoee.client.retry import RetryPolicy
    from prefect_haoee.tasks import produce_image
    from prefect_haoee.tasks.media import produce_media
    from prefect_haoee.tasks.storage import download_image, upload_image_to_s3

    for task in (produce_image, produce_media, download_image, upload_image_to_s3):
        assert task.retries and (task.retry_jitter_factor or 0) > 0, task.name
    policy = RetryPolicy(rng=random.Random(3))
    error = RateLimitedError("slow down")
    error.retry_after = 1.0
    waits = [policy.delay(error, 1) for _ in range(20)]
    assert all(1.0 <= w <= 1.1 for w in waits) and len(set(waits)) > 10
    doc = RetryPolicy.__doc__ or ""
    assert "full jitter" not in doc and "equal* jitter" in doc
    assert "[c/2, c]" in doc
