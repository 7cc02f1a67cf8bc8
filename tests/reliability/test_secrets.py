"""After the whole suite: the API key appears nowhere a user or an operator could read it.

This module runs last (file order). It adds its own runs first, so that it has something to
scan when run alone: ``haoee run`` with the right key (a moderated prompt, a 429, a
rate-limit warning; logs at DEBUG and the client's logger shipped to the API) and with a
wrong key (an authentication failure). Then it scans:

* log lines: every record captured in this suite (``exposed``), subprocess outputs, and
  every log the Prefect server holds (flow and task runs of this session);
* exception texts: kept in ``exposed`` by the other tests;
* artifacts (read back through the Prefect client), flow-run parameters, ``haoee.*`` events;
* result files (the session's result storage, pickles decoded) and lock files;
* every object of every bucket on the session's S3 server (manifests, images, metadata).

Besides each key whole, it looks for fragments: any 8 characters of a key of this suite
that take at least 4 from its random tail (a gateway may echo a key cut short; the
client scrubs any 8-character run of the key). The tail keeps words such as
``rel-secr`` of the bucket ``rel-secrets`` from counting.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import bz2
import json
import lzma
import subprocess
import zlib
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from prefect_haoee.simulator.config import SimulatorConfig
from prefect_haoee.simulator.server import run_simulator
from tests.reliability.support import (
    ECHO_KEY,
    HAOEE,
    REL_KEY,
    campaign_doc,
    list_keys,
    prompt,
    s3_client,
    scanned_bucket,
    subprocess_env,
    write_yaml,
)
from tests.support import SIM_KEY

pytestmark = pytest.mark.reliability

WRONG_KEY = "rel-wrong-key-8d41c07e3a"
# SIM_KEY: the key of the other test folders; their runs share this session's result
# storage and Prefect server when the whole suite runs, so they are scanned too.
SECRETS = (REL_KEY, WRONG_KEY, SIM_KEY, ECHO_KEY)
FRAGMENT, TAIL = 8, 10


def tail_fragments(secret: str) -> list[str]:
    """8-character runs of ``secret`` holding at least 4 characters of its last 10."""
    start = max(0, len(secret) - TAIL - (FRAGMENT - 4))
    return [secret[i : i + FRAGMENT] for i in range(start, len(secret) - FRAGMENT + 1)]


# SIM_KEY's tail (0123456789) is shared by other test keys: it is scanned for whole only.
FRAGMENTS = tuple(f.encode() for s in (REL_KEY, WRONG_KEY, ECHO_KEY) for f in tail_fragments(s))
BUCKET = "rel-secrets"
RUN_DATE = date(2026, 9, 9)


def decoded(data: bytes) -> Iterator[bytes]:
    """``data`` and what it may hide: base64 payloads (Prefect result files), compressed."""
    yield data
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return
    payloads = [document.get("result")] if isinstance(document, dict) else []
    for payload in payloads:
        if not isinstance(payload, str):
            continue
        try:
            raw = base64.b64decode(payload)
        except (binascii.Error, ValueError):
            continue
        yield raw
        for decompress in (zlib.decompress, bz2.decompress, lzma.decompress):
            try:
                yield decompress(raw)
            except (zlib.error, OSError, ValueError, lzma.LZMAError):
                continue


class Scan:
    def __init__(self) -> None:
        self.leaks: list[str] = []
        self.counts: dict[str, int] = {}

    def check(self, kind: str, where: str, data: str | bytes) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        raw = data.encode("utf-8", "replace") if isinstance(data, str) else data
        for blob in decoded(raw):
            for secret in (*(s.encode() for s in SECRETS), *FRAGMENTS):
                if secret in blob:
                    at = blob.find(secret)
                    context = blob[max(0, at - 80) : at + 40].decode("utf-8", "replace")
                    self.leaks.append(f"{kind} {where}: ...{context}...")
                    break


def run_child(args: list[str], env: dict[str, str], exposed: Any, label: str) -> Any:
    done = subprocess.run([HAOEE, *args], env=env, capture_output=True, timeout=300)
    exposed.add(f"{label}:stdout", done.stdout)
    exposed.add(f"{label}:stderr", done.stderr)
    return done


@pytest.fixture(scope="module")
def own_runs(prefect_server: str, state_dir: Path, s3_server: str, exposed: Any) -> None:
    """Runs that exercise the paths where a key could slip out."""
    scanned_bucket(s3_server, BUCKET, exposed)
    config = SimulatorConfig(
        api_keys=(REL_KEY,),
        latency_ms=5,
        latency_sigma=0.0,
        fault_script={"CVProcess:1": "429", "CVProcess:2": "drop", "CVProcess:4": "50511"},
        seed=99,
    )
    prompts = [
        prompt("fine", "a quiet lake at dawn"),
        prompt("other", "a mountain hut in snow"),
        prompt("refused", "a logo with a copyright-word"),
    ]
    with run_simulator(config) as sim:
        extra = {"PREFECT_LOGGING_LEVEL": "DEBUG", "PREFECT_LOGGING_EXTRA_LOGGERS": "prefect_haoee"}
        env = subprocess_env(prefect_server, state_dir, sim.base_url, s3_server, **extra)
        path = write_yaml(state_dir / "secrets.yaml", campaign_doc("secrets", BUCKET, prompts))
        right = run_child(
            ["run", str(path), "--json", "--date", RUN_DATE.isoformat()], env, exposed, "right"
        )
        assert right.returncode == 1, right.stderr[-3000:]  # the moderated prompt failed
        wrong_env = {**env, "HAOEE_API_KEY": WRONG_KEY}
        wrong_path = write_yaml(
            state_dir / "secrets-wrong.yaml", campaign_doc("secrets-wrong", BUCKET, prompts[:1])
        )
        wrong = run_child(["run", str(wrong_path), "--json"], wrong_env, exposed, "wrong")
        assert wrong.returncode == 1
        assert "AuthenticationError" in wrong.stdout.decode()
        # The human form of the same run, and a plan, print too.
        run_child(["run", str(wrong_path)], wrong_env, exposed, "wrong-human")
        run_child(["plan", str(path)], env, exposed, "plan")
        assert sim.stats()["calls_by_code"].get("50400", 0) >= 2


async def _server_texts(scan: Scan) -> None:
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter

    async with get_client() as client:
        offset = 0
        while page := await client.read_logs(limit=200, offset=offset):
            for entry in page:
                scan.check("server-log", entry.name, f"{entry.message}")
            offset += len(page)
        offset = 0
        while artifacts := await client.read_artifacts(limit=200, offset=offset):
            for artifact in artifacts:
                text = json.dumps(artifact.data, default=str) + (artifact.description or "")
                scan.check("artifact", str(artifact.key), text)
            offset += len(artifacts)
        offset = 0
        while runs := await client.read_flow_runs(limit=200, offset=offset):
            for run in runs:
                message = run.state.message if run.state is not None else None
                text = json.dumps(run.parameters, default=str) + (message or "")
                scan.check("flow-run", run.name, text)
            offset += len(runs)
        events = await client.read_events(
            filter=EventFilter(event=EventNameFilter(prefix=["haoee."])), limit=50
        )
        for _ in range(100):  # bounded: 5,000 events at most
            for event in events.events:
                scan.check("event", event.event, event.model_dump_json())
            if events.next_page is None:
                break
            events = await client.read_events_page(str(events.next_page))


def test_no_secret_anywhere(own_runs: None, state_dir: Path, s3_server: str, exposed: Any) -> None:
    scan = Scan()
    for where, text in exposed.texts:
        scan.check("text", where, text)
    for file in sorted(state_dir.rglob("*")):
        if file.is_file():
            scan.check("file", str(file.relative_to(state_dir)), file.read_bytes())
    asyncio.run(_server_texts(scan))
    s3 = s3_client(s3_server)
    # moto's backend is process-wide: every bucket of the session, ours and the others'.
    buckets = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    assert exposed.buckets <= buckets
    for bucket in sorted(buckets):
        for key in list_keys(s3, bucket):
            answer = s3.get_object(Bucket=bucket, Key=key)
            body = answer["Body"].read()
            scan.check("s3", f"{bucket}/{key}", json.dumps(answer.get("Metadata", {})))
            if key.endswith(".json"):
                scan.check("manifest", f"{bucket}/{key}", body)
            else:
                scan.check("s3-object", f"{bucket}/{key}", body)
    print(f"\nsecrets: scanned {scan.counts}")
    assert not scan.leaks, "\n".join(scan.leaks[:20])
    # The scan saw every kind of place it promises to look at.
    for kind in ("text", "file", "server-log", "artifact", "flow-run", "manifest"):
        assert scan.counts.get(kind, 0) > 0, (kind, scan.counts)
