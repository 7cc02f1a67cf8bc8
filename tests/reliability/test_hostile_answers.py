"""Paid answers that lie: too many files, a trickling file host, signed URLs in messages.

A hostile gateway and file host on 127.0.0.1 (port 0) answers each prompt by its first
word, and one campaign runs in this process on the session's Prefect and S3 servers:

* ``flood``: a success answer listing 10,000 image URLs, ``noise``: 201 of them. Measured
  before: 8,082 objects stored for one request (past 420 s), and 201. Now a request stores
  what it asked for (one image), the rest is one error line in the run's logs;
* ``slow``: the image URL sends one byte a second. Measured before: the item held until
  the host stopped (httpx's read timeout is per chunk). Now the item fails in about
  ``RATE_GRACE_S`` with a message naming ``HAOEE_DOWNLOAD_MIN_RATE``; its paid answer
  stays committed, so the rerun (the host fast again) downloads it and pays nothing;
* ``signed``: a 400 whose message quotes a presigned link, a token and a URL password.
  Now every URL in an error text is redacted (``***``) before it reaches a message.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from prefect_haoee.client.pace import RATE_GRACE_S
from tests.http_support import LoopbackServer, QuietHandler, serving
from tests.reliability.support import (
    REL_KEY,
    bucket_block,
    campaign_doc,
    list_keys,
    prompt,
    run_doc,
    scanned_bucket,
)
from tests.support import png_bytes

pytestmark = pytest.mark.reliability

PNG = png_bytes(16, 16)
FLOOD = 10_000
NOISE = 201
TRICKLE_BYTES = 120  # before the fix the item waited for all of them, one a second
SECRETS = ("SIG-5e1f0c9a", "TOK-77aa31b2", "PW-c0ffee42", "CRED-AKIAXYZ")
SIGNED = (
    "https://bkt.s3.amazonaws.com/ref.png?X-Amz-Credential={3}&X-Amz-Signature={0}&w=1 "
    "and https://cdn.example/r.png?token={1}, https://bob:{2}@host.example/r.png"
).format(*SECRETS)


class Gateway(LoopbackServer):
    def __init__(self) -> None:
        super().__init__(Handler)
        self.posts: Counter[str] = Counter()
        self.gets: Counter[str] = Counter()
        self.slow = True


class Handler(QuietHandler):
    server: Gateway

    def do_POST(self) -> None:
        kind = str(self.read_json().get("prompt", "x")).split()[0]
        with self.server.lock:
            self.server.posts[kind] += 1
        base = f"{self.server.url}/files"
        if kind == "signed":
            error = {"code": 50200, "message": f"cannot fetch {SIGNED}", "request_id": "r-signed"}
            self.answer_json(400, error)
            return
        count = {"flood": FLOOD, "noise": NOISE}.get(kind, 1)
        urls = [f"{base}/{kind}/{i}.png" for i in range(count)]
        data = {"image_urls": urls, "binary_data_base64": []}
        self.answer_json(200, {"code": 10000, "data": data, "request_id": f"r-{kind}"})

    def do_GET(self) -> None:
        kind = self.path.strip("/").split("/")[1]
        with self.server.lock:
            self.server.gets[kind] += 1
        if kind != "slow" or not self.server.slow:
            self.answer(200, PNG, "image/png")
            return
        self.head(200, "image/png", None)
        try:
            for byte in PNG[:TRICKLE_BYTES]:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(1.0)
        except OSError:  # the client gave up: what we want to see
            pass


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    with serving(Gateway(), "hostile-answers") as server:
        yield server


def test_hostile_answers_store_what_was_asked_fail_slow_files_and_redact_urls(
    prefect_server: str,
    s3_server: str,
    gateway: Gateway,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    record_logs: None,
    exposed: Any,
) -> None:
    bucket = "rel-hostile-answers"
    s3 = scanned_bucket(s3_server, bucket, exposed)
    monkeypatch.setenv("HAOEE_API_KEY", REL_KEY)
    monkeypatch.setenv("HAOEE_BASE_URL", gateway.url)
    kinds = ("flood", "noise", "slow", "signed")
    prompts = [prompt(k, f"{k} please") for k in kinds]
    # A link with a password and a token in the request's image_urls: handed to the
    # gateway as it is (it must fetch it), but the manifest, results and logs redact it.
    face = f"https://eve:{SECRETS[2]}@cdn.example/face.png?token={SECRETS[1]}&w=2"
    prompts[3].update(model="high_aes_ip_v20", image_urls=[face])
    doc = campaign_doc("hostile-answers", bucket, prompts)
    block = bucket_block(s3_server, bucket)
    day = date(2026, 3, 3)

    started = time.monotonic()
    state, result = run_doc(tmp_path, doc, day, block)
    took = time.monotonic() - started
    text = result.model_dump_json()
    exposed.add("hostile-answers:first", text)
    errors = {f.prompt_id: f.error for f in result.failures}
    assert state.is_failed() and result.done == 2 and set(errors) == {"slow", "signed"}, errors

    # 3: one object per request, one download per request, the rest logged once.
    keys = list_keys(s3, bucket, "campaigns/")
    images = [k for k in keys if not k.endswith("manifest.json") and "/thumbs/" not in k]
    assert len(images) == 2, len(images)
    assert gateway.gets["flood"] == 1 and gateway.gets["noise"] == 1, gateway.gets
    lines = [r.getMessage() for r in caplog.records if "files for request" in r.getMessage()]
    assert len([m for m in lines if f"answered {FLOOD} files" in m]) == 1, lines
    assert len([m for m in lines if f"answered {NOISE} files" in m]) == 1, lines

    # 4: the trickle fails the item soon, with a message that says why.
    assert "too slow" in errors["slow"] and "HAOEE_DOWNLOAD_MIN_RATE" in errors["slow"]
    assert took < RATE_GRACE_S + 40, took

    # 2: no secret of a quoted URL in the result, the logs or the manifest.
    manifest_key = next(k for k in list_keys(s3, bucket) if k.endswith("manifest.json"))
    manifest = json.dumps(json.loads(s3.get_object(Bucket=bucket, Key=manifest_key)["Body"].read()))
    logs = "\n".join(caplog.handler.format(r) for r in caplog.records)
    for where, seen in (("result", text), ("manifest", manifest), ("logs", logs)):
        assert not [s for s in SECRETS if s in seen], (where, seen[-3000:])
    assert "X-Amz-Signature=***" in errors["signed"] and "bob:***@host" in errors["signed"]
    entry = next(e for e in json.loads(manifest)["items"] if e["prompt_id"] == "signed")
    assert entry["params"]["image_urls"] == ["https://eve:***@cdn.example/face.png?token=***&w=2"]
    assert gateway.posts["signed"] == 1

    # 4: the rerun downloads the committed answer again and pays nothing.
    gateway.slow = False
    paid = sum(gateway.posts.values())
    state, result = run_doc(tmp_path, doc, day, block)
    exposed.add("hostile-answers:rerun", result.model_dump_json())
    assert {f.prompt_id for f in result.failures} == {"signed"}, result.failures
    assert sum(gateway.posts.values()) - paid == 1  # only the refused 'signed' asks again
    assert gateway.posts["slow"] == 1 and gateway.gets["slow"] == 2
