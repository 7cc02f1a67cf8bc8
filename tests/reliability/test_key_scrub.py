"""A gateway that echoes the key: nothing of it reaches a user or an operator.

The hostile gateway on 127.0.0.1 (port 0) answers by the first word of the prompt: a 401
whose JSON message echoes the ``Authorization`` header cut after 19 characters, a 401 in
plain text (``Authorization: Bearer <first 12 characters>``), a 400 naming a fragment from
the middle of the key, and a 200 that is not JSON holding another fragment (retried, so it
is logged). ``haoee run`` runs the campaign three times: ``--json``, text, and ``--json``
with the key given with a trailing CR/LF. Then no run of 8 characters of the key may be in
stdout/stderr, in the manifest, in the Prefect server's flow-run logs or states.

Measured before the fix: the first 12 characters of the key in stdout, stderr, the
manifest and the flow-run logs; with CR/LF the key whole.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from tests.http_support import LoopbackServer, QuietHandler, serving
from tests.reliability.support import (
    ECHO_KEY,
    HAOEE,
    campaign_doc,
    list_keys,
    prompt,
    scanned_bucket,
    subprocess_env,
    write_yaml,
)

pytestmark = pytest.mark.reliability

KEY = ECHO_KEY
BUCKET = "rel-key-scrub"
DAY = date(2026, 6, 6)
FRAGMENT = 8


def fragments(secret: str = KEY) -> set[str]:
    return {secret[i : i + FRAGMENT] for i in range(len(secret) - FRAGMENT + 1)}


def leaks(text: str) -> list[str]:
    return sorted(f for f in fragments() if f in text)


class EchoHandler(QuietHandler):
    def do_POST(self) -> None:
        body = self.read_json()
        auth = self.headers.get("Authorization", "")
        key = auth.split(" ", 1)[-1]
        kind = str(body.get("prompt", "x")).split()[0]
        if kind == "jsonecho":
            answer = {"code": 50400, "message": f"invalid token {auth[:19]}", "request_id": "r1"}
            self.answer_json(401, answer)
        elif kind == "textecho":
            self.answer(401, f"Unauthorized. Authorization: {auth[:19]}".encode(), "text/plain")
        elif kind == "fragment":
            answer = {
                "code": 50200,
                "message": f"no account for ...{key[6:18]}...",
                "request_id": key[4:16],
            }
            self.answer_json(400, answer)
        elif kind == "html":
            self.answer(200, f"<html>proxy error near {key[10:24]}</html>".encode(), "text/html")
        else:
            self.answer(404, b"{}")


@pytest.fixture(scope="module")
def echo() -> Iterator[LoopbackServer]:
    with serving(LoopbackServer(EchoHandler), "key-echo") as server:
        yield server


async def _server_texts(names: set[str]) -> list[tuple[str, str]]:
    """Logs and state messages of this test's flow runs on the Prefect server."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterName,
        LogFilter,
        LogFilterFlowRunId,
    )

    texts: list[tuple[str, str]] = []
    async with get_client() as client:
        runs = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=sorted(names)))
        )
        assert runs, names
        for run in runs:
            texts.append((f"state:{run.name}", run.model_dump_json()))
            offset = 0
            log_filter = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id]))
            while page := await client.read_logs(log_filter=log_filter, offset=offset):
                texts.extend((f"log:{run.name}", entry.message) for entry in page)
                offset += len(page)
    return texts


def test_an_echoed_key_shows_nowhere(
    prefect_server: str,
    state_dir: Path,
    s3_server: str,
    echo: LoopbackServer,
    tmp_path: Path,
    exposed: Any,
) -> None:
    s3 = scanned_bucket(s3_server, BUCKET, exposed)
    prompts = [
        prompt(kind, f"{kind} please") for kind in ("jsonecho", "textecho", "fragment", "html")
    ]
    runs = [
        ("json", ["--json"], KEY),
        ("text", [], KEY),
        ("crlf", ["--json"], KEY + "\r\n"),
    ]
    texts: list[tuple[str, str]] = []
    outcomes: list[tuple[str, int, str, str]] = []
    names = set()
    for label, flags, key in runs:
        name = f"key-scrub-{label}"
        names.add(f"{name}-{DAY.isoformat()}")
        path = write_yaml(tmp_path / f"{name}.yaml", campaign_doc(name, BUCKET, prompts))
        env = subprocess_env(
            prefect_server,
            state_dir,
            echo.url,
            s3_server,
            HAOEE_API_KEY=key,
            HAOEE_MAX_ATTEMPTS="2",
            PREFECT_LOGGING_LEVEL="DEBUG",
            PREFECT_LOGGING_EXTRA_LOGGERS="prefect_haoee",
        )
        done = subprocess.run(
            [HAOEE, "run", str(path), "--date", DAY.isoformat(), *flags],
            env=env,
            capture_output=True,
            timeout=300,
        )
        out, err = done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace")
        texts += [(f"{label}:stdout", out), (f"{label}:stderr", err)]
        exposed.add(f"key-scrub:{label}:stdout", out)
        exposed.add(f"key-scrub:{label}:stderr", err)
        outcomes.append((label, done.returncode, out, err))
    manifests = [k for k in list_keys(s3, BUCKET) if k.endswith("manifest.json")]
    for key in manifests:
        texts.append((f"s3:{key}", s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()))
    texts += asyncio.run(_server_texts(names))
    found = [(where, leaks(text)) for where, text in texts if leaks(text)]
    whole = sorted({where.split(":")[0] for where, text in texts if KEY in text})
    print(
        f"\nkey scrub: {len(texts)} texts scanned, {len(found)} with a fragment of the key "
        f"({sorted(where for where, _ in found)}); the whole key in {whole}"
    )
    assert not found, found[:10]
    assert len(manifests) == len(runs), manifests
    for label, code, out, err in outcomes:
        assert code == 1, (label, err[-3000:])
        assert "AuthenticationError" in out, (label, out[-3000:])
    # The scrubbed echoes are still there, as text a human can read.
    everything = "\n".join(text for _, text in texts)
    assert "Bearer ***" in everything and "Authorization: ***" in everything


def test_the_key_is_not_in_the_client_vars_and_crlf_is_stripped() -> None:
    from prefect_haoee.client import AsyncHaoeeClient, HaoeeClient, HaoeeSettings

    settings = HaoeeSettings(api_key=SecretStr(KEY + "\r\n"), base_url="http://127.0.0.1:9")
    assert settings.api_key.get_secret_value() == KEY
    assert settings.authorization_header() == f"Bearer {KEY}"
    with HaoeeClient(settings) as client:
        shown = f"{vars(client)!r} {vars(client)!s} {client!r}"
    assert not leaks(shown), shown
    aclient = AsyncHaoeeClient(settings)
    shown = f"{vars(aclient)!r} {aclient!r}"
    asyncio.run(aclient.aclose())
    assert not leaks(shown), shown
    with pytest.raises(ValueError) as caught:
        HaoeeSettings(api_key=SecretStr("hk-live-7Qz9\nLmX2pV4tR8sW1nB6yC3d"))
    assert not leaks(str(caught.value)) and "7Qz9" not in str(caught.value)


@pytest.mark.parametrize(
    "echoed",
    [
        KEY,
        KEY[:12],
        KEY[5:13],
        f"Authorization: Bearer {KEY[:4]}",
        f"authorization='{KEY[:6]}'",
        f"Bearer {KEY[:5]}",
    ],
)
def test_the_scrubber_masks_every_shape_of_echo(echoed: str) -> None:
    from prefect_haoee.client.redact import make_scrubber

    scrubbed = make_scrubber(KEY)(f"gateway said: {echoed} (end)")
    assert not leaks(scrubbed) and KEY[:4] not in scrubbed, scrubbed
    assert scrubbed.startswith("gateway said: ") and scrubbed.endswith(" (end)")
