"""A hostile gateway and file host: every bad answer is a clear error, no crash, bounded memory.

A tiny threaded HTTP server on 127.0.0.1 (port 0) plays both parts. Gateway answers are
chosen by the first path segment of ``HAOEE_BASE_URL`` (``http://host:port/<kind>``, the
client posting to ``/<kind>/volcv/v1``); file answers live under ``/files/<kind>``. The
server counts the bytes it really sent, so the 200 MB body shows where the client stopped.
"""

from __future__ import annotations

import asyncio
import json
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from prefect_haoee.client import (
    AsyncHaoeeClient,
    DownloadError,
    HaoeeClient,
    HaoeeError,
    HaoeeSettings,
    InvalidRequestError,
    TransportError,
    parse_request,
)
from prefect_haoee.client.download import DEFAULT_MAX_BYTES
from tests.http_support import LoopbackServer, QuietHandler, serving
from tests.reliability.support import (
    REL_KEY,
    bucket_block,
    campaign_doc,
    prompt,
    run_doc,
    scanned_bucket,
    wait_until,
)
from tests.support import png_bytes

pytestmark = pytest.mark.reliability

MB = 1024 * 1024
HUGE_JSON_MB = 30
HUGE_FILE_MB = 200
CHUNK = 64 * 1024
PNG = png_bytes(16, 16)


class Hostile(LoopbackServer):
    def __init__(self) -> None:
        super().__init__(Handler)
        self.sent: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()

    def count(self, kind: str, sent: int = 0, call: bool = False) -> None:
        with self.lock:
            self.sent[kind] += sent
            self.calls[kind] += int(call)


class Handler(QuietHandler):
    server: Hostile

    def _send(self, status: int, body: bytes, kind: str, ctype: str = "application/json") -> None:
        self.answer(status, body, ctype)
        self.server.count(kind, len(body))

    def do_POST(self) -> None:
        kind = self.path.strip("/").split("/")[0]
        self.server.count(kind, call=True)
        body = self.read_json()
        auth = self.headers.get("Authorization", "")
        if kind == "nonjson":
            self._send(200, f"<html>oops {auth}</html>".encode(), kind, "text/html")
        elif kind == "nonjson502":
            self._send(502, f"Bad Gateway (you sent {auth})".encode(), kind, "text/html")
        elif kind == "nonjson400":
            self._send(400, b"<h1>Bad Request</h1>", kind, "text/html")
        elif kind == "notutf8":
            self._send(200, b"\xff\xfe\x00garbage\x80\x81", kind, "application/json")
        elif kind == "jsonlist":
            self._send(200, b"[1, 2, 3]", kind)
        elif kind == "echo":
            error = {"code": 50200, "message": f"bad {auth}", "request_id": f"id {auth}"}
            self._send(400, json.dumps(error).encode(), kind)
        elif kind == "huge":
            filler = "x" * (HUGE_JSON_MB * MB)
            data = {"image_urls": [f"{self.server.url}/files/png"], "pe_result": filler}
            self._send(200, json.dumps({"code": 10000, "data": data}).encode(), kind)
        elif kind == "hugestream":  # 30 MB of answer without a Content-Length
            self.head(200, "application/json", None)
            self.wfile.write(b'{"code": 10000, "data": {"pe_result": "')
            try:
                for _ in range(HUGE_JSON_MB * MB // CHUNK):
                    self.wfile.write(b"x" * CHUNK)
                    self.server.count(kind, CHUNK)
            except OSError:  # the client hung up at its cap
                pass
        elif kind == "gw":  # a well-behaved gateway whose image URL depends on the prompt
            target = str(body.get("prompt", "")).split()[0]
            url = target if "://" in target else f"{self.server.url}/files/{target}"
            data = {"image_urls": [url], "binary_data_base64": []}
            answer = {"code": 10000, "data": data, "request_id": "20260101hostile"}
            self._send(200, json.dumps(answer).encode(), kind)
        else:
            self._send(404, b"{}", kind)

    def do_GET(self) -> None:
        kind = self.path.strip("/").split("/")[-1]
        self.server.count(kind, call=True)
        if kind == "png":
            self._send(200, PNG, kind, "image/png")
        elif kind == "nonimage":
            self._send(200, b"<html>definitely not a picture</html>", kind, "image/png")
        elif kind == "loop":
            self.answer(302, b"", None, {"Location": "/files/loop"})
        elif kind == "tofile":
            self.answer(302, b"", None, {"Location": "file:///etc/passwd"})
        elif kind == "declared":  # announces 200 MB: refused before any body is read
            self.head(200, "image/png", HUGE_FILE_MB * MB)
            self._stream(kind)
        elif kind == "endless":  # 200 MB with no Content-Length, as a stream
            self.head(200, "image/png", None)
            self._stream(kind)
        else:
            self._send(404, b"not found", kind, "text/plain")

    def _stream(self, kind: str) -> None:
        chunk = b"\x89PNG" + b"\0" * (CHUNK - 4)
        try:
            for _ in range(HUGE_FILE_MB * MB // CHUNK):
                self.wfile.write(chunk)
                self.server.count(kind, len(chunk))
        except OSError:  # the client hung up: exactly what we want to see
            pass
        finally:
            self.server.count(f"{kind}:ended", call=True)


@pytest.fixture(scope="module")
def hostile() -> Iterator[Hostile]:
    with serving(Hostile(), "hostile") as server:
        yield server


def settings(base_url: str) -> HaoeeSettings:
    return HaoeeSettings(
        api_key=SecretStr(REL_KEY),
        base_url=base_url,
        max_attempts=2,
        backoff_base=0.0,
        backoff_max=0.0,
        read_timeout=30,
    )


def request(text: str = "a red shoe") -> Any:
    return parse_request(
        {"req_key": "high_aes_general_v20_L", "prompt": text, "seed": 1, "return_url": True}
    )


def clean(error: BaseException, exposed: Any, where: str) -> str:
    """The error's text, checked free of the key, and kept for the final secrets scan."""
    text = f"{error} | {error!r} | {getattr(error, 'request_id', '')}"
    exposed.add(where, text)
    assert REL_KEY not in text
    return text


GATEWAY_CASES = [
    # (kind, error class, fragment of the message, calls made: resent or not)
    ("nonjson", TransportError, "not its JSON", 2),
    ("nonjson502", TransportError, "HTTP 502", 2),
    ("nonjson400", InvalidRequestError, "HTTP 400", 1),
    ("notutf8", TransportError, "not its JSON", 2),
    ("jsonlist", TransportError, "unexpected JSON", 2),
    ("echo", InvalidRequestError, "bad Bearer *** code=50200", 1),
    ("missing", InvalidRequestError, "HTTP 404", 1),
]


@pytest.mark.parametrize(("kind", "cls", "fragment", "calls"), GATEWAY_CASES)
def test_bad_gateway_answers_are_clear_errors(
    hostile: Hostile, exposed: Any, kind: str, cls: type[HaoeeError], fragment: str, calls: int
) -> None:
    before = hostile.calls[kind]
    with (
        HaoeeClient(settings(f"{hostile.url}/{kind}")) as client,
        pytest.raises(HaoeeError) as caught,
    ):
        client.generate(request())
    assert type(caught.value) is cls, caught.value
    text = clean(caught.value, exposed, f"hostile:{kind}")
    assert fragment in text
    assert hostile.calls[kind] - before == calls  # resent only when a resend can help
    assert len(str(caught.value)) < 1000  # a clear, short message, not the whole body


def test_a_30_mb_answer_is_read_whole_and_measured(hostile: Hostile, exposed: Any) -> None:
    """The client holds a gateway answer in memory (httpx reads it, then json parses it):
    a 30 MB answer works and costs a few times its size; measured, not capped."""

    async def run() -> Any:
        async with AsyncHaoeeClient(settings(f"{hostile.url}/huge")) as client:
            return await client.generate(request())

    tracemalloc.start()
    try:
        images = asyncio.run(run())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert images.count == 1 and len(images.extras["pe_result"]) == HUGE_JSON_MB * MB
    print(f"\nhostile: a {HUGE_JSON_MB} MB gateway answer peaked at {peak / MB:.0f} MB traced")
    exposed.add("hostile:huge", f"peak {peak}")
    assert peak < 8 * HUGE_JSON_MB * MB


@pytest.mark.parametrize("kind", ["huge", "hugestream"])
def test_an_answer_over_the_cap_is_refused_not_held(
    hostile: Hostile, exposed: Any, kind: str
) -> None:
    """``HAOEE_MAX_ANSWER_BYTES``: an announced or streamed answer over it is an error,
    read no further and not resent (it may be a billed answer)."""
    before = hostile.calls[kind]
    capped = settings(f"{hostile.url}/{kind}").model_copy(update={"max_answer_bytes": MB})

    async def run() -> Any:
        async with AsyncHaoeeClient(capped) as client:
            return await client.generate(request())

    tracemalloc.start()
    try:
        with pytest.raises(TransportError) as caught:
            asyncio.run(run())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    text = clean(caught.value, exposed, f"hostile:cap:{kind}")
    assert "over the 1048576-byte cap" in text and not caught.value.retryable
    assert hostile.calls[kind] - before == 1  # not resent
    print(f"\nhostile: {kind} answer refused at a 1 MB cap, peak {peak / MB:.1f} MB traced")
    if kind == "hugestream":  # ("huge" is built whole by the server, in this process)
        assert peak < 8 * MB


DOWNLOAD_CASES = [
    ("nonimage", "not a decodable image"),
    ("loop", "too many redirects"),
    ("tofile", "unsupported URL"),
    ("declared", "over the"),
    ("missing", "HTTP 404"),
]


@pytest.mark.parametrize(("kind", "fragment"), DOWNLOAD_CASES)
def test_bad_image_urls_are_clear_errors(
    hostile: Hostile, exposed: Any, kind: str, fragment: str
) -> None:
    with HaoeeClient(settings(hostile.url)) as client, pytest.raises(DownloadError) as caught:
        client.download(f"{hostile.url}/files/{kind}")
    assert fragment in clean(caught.value, exposed, f"hostile:file:{kind}")
    if kind == "declared":
        assert hostile.sent[kind] < 16 * MB  # the body was not read


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("file:///etc/passwd", "only http(s)"),
        ("ftp://127.0.0.1/x.png", "only http(s)"),
        ("gopher://x/", "only http(s)"),
        # No "://": read as inline base64, which it is not.
        ("javascript:alert(1)", "not valid base64"),
        ("data:text/html,<b>hi</b>", "not valid base64"),
    ],
)
def test_non_http_image_urls_are_refused_before_any_io(
    url: str, fragment: str, exposed: Any
) -> None:
    with HaoeeClient(settings("http://127.0.0.1:9")) as client, pytest.raises(DownloadError) as e:
        client.download(url)
    assert fragment in clean(e.value, exposed, "hostile:scheme")


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_200_mb_stream_stops_at_the_cap(hostile: Hostile, exposed: Any, mode: str) -> None:
    """No Content-Length: the client reads the stream and stops at 50 MB; the server sees
    the connection close long before 200 MB, and the client's memory stays near the cap."""
    with hostile.lock:
        hostile.sent["endless"] = 0
        ended = hostile.calls["endless:ended"]
    url = f"{hostile.url}/files/endless"

    async def fetch_async() -> None:
        async with AsyncHaoeeClient(settings(hostile.url)) as client:
            await client.download(url)

    tracemalloc.start()
    try:
        with pytest.raises(DownloadError) as caught:
            if mode == "sync":
                with HaoeeClient(settings(hostile.url)) as client:
                    client.download(url)
            else:
                asyncio.run(fetch_async())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "cap" in clean(caught.value, exposed, f"hostile:endless:{mode}")
    # The server notices the hang-up at its next write; then its count is final.
    wait_until(lambda: hostile.calls["endless:ended"] > ended, timeout=30, what="the hang-up")
    sent = hostile.sent["endless"]
    print(
        f"\nhostile ({mode}): 200 MB stream cut after {sent / MB:.1f} MB sent; "
        f"client peak {peak / MB:.0f} MB traced"
    )
    assert DEFAULT_MAX_BYTES < sent < DEFAULT_MAX_BYTES + 32 * MB
    assert peak < 3 * DEFAULT_MAX_BYTES


def test_a_campaign_against_hostile_urls_reports_each_item_and_keeps_the_good_one(
    prefect_server: str,
    s3_server: str,
    hostile: Hostile,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    record_logs: None,
    exposed: Any,
) -> None:
    """The whole flow: each prompt's (paid) answer points to a different hostile URL."""
    bucket = "rel-hostile"
    scanned_bucket(s3_server, bucket, exposed)
    targets = {
        "good": ("png", None),
        "nonimage": ("nonimage", "not a decodable image"),
        "loop": ("loop", "too many redirects"),
        "endless": ("endless", "cap"),
        "file": ("file:///etc/passwd", "only http(s)"),
        "ftp": ("ftp://127.0.0.1/x.png", "only http(s)"),
    }
    prompts = [prompt(pid, f"{target} please") for pid, (target, _) in targets.items()]
    monkeypatch.setenv("HAOEE_API_KEY", REL_KEY)
    monkeypatch.setenv("HAOEE_BASE_URL", f"{hostile.url}/gw")
    doc = campaign_doc("hostile", bucket, prompts)
    state, result = run_doc(tmp_path, doc, date(2026, 2, 2), bucket_block(s3_server, bucket))
    exposed.add("hostile:campaign", result.model_dump_json())
    assert state.is_failed() and result.done == 1 and result.failed == len(targets) - 1
    errors = {f.prompt_id: f.error for f in result.failures}
    for pid, (_, fragment) in targets.items():
        if fragment is not None:
            assert "DownloadError" in errors[pid] and fragment in errors[pid], errors[pid]
    assert hostile.calls["gw"] == len(targets)  # a download error is final: no paid retry
