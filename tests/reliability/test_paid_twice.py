"""Two machines, one bucket, no shared lock: a double payment is reported, not hidden (13.7).

Two ``haoee run --json`` processes run one 20-image campaign, each with its own
``PREFECT_HOME``, result storage, lock directory and API key (two machines), the same S3
bucket and prefix, and one Prefect API. The gateway (a small server on 127.0.0.1, port 0,
that bills every generation by request) holds its answers until the test lets them go:
both runs plan before anything is stored, so both pay (``HAOEE_LOCK_URL=file``: the
one-machine lock only, as without the cross-machine claims of issue 15).
Then machine A is answered and finishes; then machine B. What this test holds: every
image billed twice is reported as paid twice, by the run that stored second (its
conditional upload found the other's object, whose metadata names the paying run), in its
``--json`` result and in the final manifest, and a later run's table still says so.

Measured before the fix: 40 billable generations for 20 images, 20 billed twice, 0 reported.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.support import (
    HAOEE,
    REL_KEY,
    SYNC_MODEL,
    campaign_doc,
    list_keys,
    prompt,
    read_json,
    s3_client,
    subprocess_env,
    wait_until,
    write_yaml,
)
from tests.support import png_bytes

pytestmark = pytest.mark.reliability

IMAGES = 20
BUCKET = "rel-paid-twice"
DAY = date(2026, 7, 7)
KEY_A, KEY_B = REL_KEY, REL_KEY + "-machine-b"


class HeldGateway(ThreadingHTTPServer):
    """CVProcess that bills each request and answers once its key's gate is open."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), HeldHandler)
        self.gates = {KEY_A: threading.Event(), KEY_B: threading.Event()}
        self.billed: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class HeldHandler(BaseHTTPRequestHandler):
    server: HeldGateway
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) or b"{}"
        key = self.headers.get("Authorization", "").split(" ", 1)[-1]
        gate = self.server.gates.get(key)
        if gate is None or "CVProcess" not in self.path:
            answer: dict[str, Any] = {"code": 50400, "message": "unknown key or action"}
            return self._answer(401, answer)
        digest = hashlib.sha256(json.dumps(json.loads(raw), sort_keys=True).encode()).hexdigest()
        with self.server.lock:
            self.server.calls[key] += 1
        gate.wait(timeout=600)
        with self.server.lock:
            self.server.billed[digest] += 1
        shade = int(digest[:2], 16)
        image = base64.b64encode(png_bytes(8, 8, (shade, 90, 200))).decode()
        data = {"binary_data_base64": [image], "image_urls": []}
        self._answer(200, {"code": 10000, "data": data, "request_id": f"rid-{digest[:12]}"})

    def _answer(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def gateway() -> Iterator[HeldGateway]:
    server = HeldGateway()
    thread = threading.Thread(target=server.serve_forever, name="held-gateway", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        for gate in server.gates.values():
            gate.set()
        server.shutdown()
        server.server_close()


def machine_env(base: dict[str, str], home: Path, key: str) -> dict[str, str]:
    """One machine: its own Prefect home, result storage, lock files and key."""
    return {
        **base,
        "HAOEE_API_KEY": key,
        "PREFECT_HOME": str(home / "prefect"),
        "PREFECT_LOCAL_STORAGE_PATH": str(home / "results"),
        "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(home / "results"),
        "HAOEE_LOCK_DIR": str(home / "locks"),
        # No shared lock: each machine locks only among its own processes.
        "HAOEE_LOCK_URL": "file",
    }


def start(path: Path, env: dict[str, str], *flags: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [HAOEE, "run", str(path), "--date", DAY.isoformat(), *flags],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def finish(process: subprocess.Popen[bytes], exposed: Any, label: str) -> tuple[str, str]:
    out, err = process.communicate(timeout=600)
    exposed.add(f"paid-twice:{label}:stdout", out)
    exposed.add(f"paid-twice:{label}:stderr", err)
    assert process.returncode == 0, err.decode("utf-8", "replace")[-3000:]
    return out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


@pytest.mark.timeout(900)
def test_two_machines_without_a_lock_report_every_double_payment(
    prefect_server: str,
    state_dir: Path,
    s3_server: str,
    gateway: HeldGateway,
    tmp_path: Path,
    exposed: Any,
) -> None:
    s3 = s3_client(s3_server)
    s3.create_bucket(Bucket=BUCKET)
    exposed.buckets.add(BUCKET)
    prompts = [prompt(f"p{i}", f"a paper boat number {i}") for i in range(IMAGES)]
    doc = campaign_doc("paid-twice", BUCKET, prompts, concurrency=IMAGES, model=SYNC_MODEL)
    path = write_yaml(tmp_path / "paid-twice.yaml", doc)
    base = subprocess_env(prefect_server, state_dir, gateway.url, s3_server)
    machine_a = machine_env(base, tmp_path / "machine-a", KEY_A)
    machine_b = machine_env(base, tmp_path / "machine-b", KEY_B)
    first = start(path, machine_a, "--json")
    second = start(path, machine_b, "--json")
    wait_until(
        lambda: min(gateway.calls[KEY_A], gateway.calls[KEY_B]) >= IMAGES,
        timeout=300,
        what="both runs' paid calls in flight",
    )
    gateway.gates[KEY_A].set()
    out_a, _ = finish(first, exposed, "a")
    gateway.gates[KEY_B].set()
    out_b, _ = finish(second, exposed, "b")
    billed = Counter(gateway.billed)
    # A later run on machine A: nothing to pay, and its table still says "paid twice".
    out_c, err_c = finish(start(path, machine_a), exposed, "rerun")
    assert gateway.billed == billed

    stats = {
        "billable_generations": sum(billed.values()),
        "duplicates": sum(n - 1 for n in billed.values() if n > 1),
    }
    result_a, result_b = json.loads(out_a), json.loads(out_b)
    duplicates = stats["duplicates"]
    print(f"\npaid twice: ledger {stats['billable_generations']} billable, {duplicates} dup")
    reported = {
        (row["prompt_id"], row["variant"])
        for result in (result_a, result_b)
        for row in result["items"]
        if row.get("paid_twice_with")
    }
    print(
        f"\npaid twice: billable {stats['billable_generations']} for {IMAGES} images, "
        f"{duplicates} duplicates; reported: run A {result_a.get('paid_twice')}, "
        f"run B {result_b.get('paid_twice')}"
    )
    assert duplicates == IMAGES and len(billed) == IMAGES  # both paid for every image
    assert len(reported) == duplicates, (reported, duplicates)
    assert result_a["paid_twice"] + result_b["paid_twice"] >= duplicates

    # The objects name their payer; the final manifest reports every double payment.
    keys = [k for k in list_keys(s3, BUCKET) if not k.endswith("manifest.json")]
    assert len(keys) == IMAGES
    payers = {s3.head_object(Bucket=BUCKET, Key=k)["Metadata"].get("paid-by-run") for k in keys}
    assert None not in payers and payers, payers
    manifest = read_json(s3, BUCKET, result_a["manifest_key"])
    twice = [e for e in manifest["items"] if e["paid_twice_with"]]
    assert manifest["paid_twice"] == len(twice) == duplicates, manifest["paid_twice"]
    for entry in twice:
        assert entry["paid_twice_with"] != entry["paid_by"]
    shown = out_c + err_c
    assert f"{duplicates} image(s) paid twice" in shown, shown[-3000:]
    assert shown.count("PAID TWICE") == duplicates, shown[-3000:]


def held_sets(s3: Any, bucket: str) -> int:
    """Claim sets held now in the bucket's register(s) (``tasks.claim_sets``)."""
    held = 0
    for key in list_keys(s3, bucket):
        if key.endswith(".sets/register.json"):
            held += sum(1 for s in read_json(s3, bucket, key)["sets"] if s["state"] == "held")
    return held


@pytest.mark.timeout(900)
def test_two_machines_with_the_default_lock_pay_each_image_once(
    prefect_server: str,
    state_dir: Path,
    s3_server: str,
    gateway: HeldGateway,
    tmp_path: Path,
    exposed: Any,
) -> None:
    """The same two machines and campaign with the default lock (S3 claims): machine A
    claims the run's items with one claim set; B, started while A's calls are held, finds
    them claimed, waits for A and takes A's files: 20 payments for 20 images, none twice."""
    bucket = BUCKET + "-sets"
    s3 = s3_client(s3_server)
    s3.create_bucket(Bucket=bucket)
    exposed.buckets.add(bucket)
    prompts = [prompt(f"p{i}", f"a paper kite number {i}") for i in range(IMAGES)]
    doc = campaign_doc("claim-sets", bucket, prompts, concurrency=IMAGES, model=SYNC_MODEL)
    path = write_yaml(tmp_path / "claim-sets.yaml", doc)
    base = subprocess_env(prefect_server, state_dir, gateway.url, s3_server)
    machine_a = {**machine_env(base, tmp_path / "machine-a", KEY_A), "HAOEE_LOCK_URL": "auto"}
    machine_b = {**machine_env(base, tmp_path / "machine-b", KEY_B), "HAOEE_LOCK_URL": "auto"}
    gateway.gates[KEY_B].set()  # B is answered at once, should it pay anything
    first = start(path, machine_a, "--json")
    wait_until(lambda: gateway.calls[KEY_A] >= IMAGES, timeout=300, what="A's calls in flight")
    second = start(path, machine_b, "--json")
    wait_until(lambda: held_sets(s3, bucket) >= 2, timeout=300, what="B claiming after A")
    gateway.gates[KEY_A].set()
    out_a, _ = finish(first, exposed, "sets-a")
    out_b, _ = finish(second, exposed, "sets-b")
    billed = Counter(gateway.billed)
    result_a, result_b = json.loads(out_a), json.loads(out_b)
    print(
        f"\nclaim sets: billable {sum(billed.values())} for {IMAGES} images; "
        f"calls A {gateway.calls[KEY_A]}, B {gateway.calls[KEY_B]}"
    )
    assert sum(billed.values()) == IMAGES and len(billed) == IMAGES
    assert gateway.calls[KEY_B] == 0  # B paid for nothing: it took A's files
    assert result_a["done"] == result_b["done"] == IMAGES
    assert result_a["paid_twice"] == result_b["paid_twice"] == 0
    assert held_sets(s3, bucket) == 0  # both runs ended their sets
