"""Two machines, one bucket: with no shared ledger a double payment is reported, not hidden
(13.7); with the default ledger (in the bucket) every request is paid once, also for two
campaigns with their own prefixes and for a run killed between its answers and uploads.

Two ``haoee run --json`` processes run one 20-image campaign, each with its own
``PREFECT_HOME``, result storage, lock directory and API key (two machines), the same S3
bucket, and one Prefect API. The gateway (a small server on 127.0.0.1, port 0,
that bills every generation by request) holds its answers until the test lets them go:
both runs plan before anything is stored, so both pay (``HAOEE_LOCK_URL=file``: a ledger
on each machine, none shared).
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
import os
import signal
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.http_support import LoopbackServer, QuietHandler, serving
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


class HeldGateway(LoopbackServer):
    """CVProcess that bills each request and answers once its key's gate is open."""

    def __init__(self) -> None:
        super().__init__(HeldHandler)
        self.gates = {KEY_A: threading.Event(), KEY_B: threading.Event()}
        self.urls = False
        """Answer with file URLs (served by ``do_GET`` once ``downloads`` is set) instead
        of inline images."""
        self.downloads = threading.Event()
        self.billed: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()


def _png(digest: str) -> bytes:
    return png_bytes(8, 8, (int(digest[:2], 16), 90, 200))


class HeldHandler(QuietHandler):
    server: HeldGateway

    def do_POST(self) -> None:
        body = self.read_json()
        key = self.headers.get("Authorization", "").split(" ", 1)[-1]
        gate = self.server.gates.get(key)
        if gate is None or "CVProcess" not in self.path:
            return self.answer_json(401, {"code": 50400, "message": "unknown key or action"})
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        with self.server.lock:
            self.server.calls[key] += 1
        gate.wait(timeout=600)
        with self.server.lock:
            self.server.billed[digest] += 1
        if self.server.urls:
            data: dict[str, Any] = {"image_urls": [f"{self.server.url}/img/{digest}.png"]}
        else:
            image = base64.b64encode(_png(digest)).decode()
            data = {"binary_data_base64": [image], "image_urls": []}
        self.answer_json(200, {"code": 10000, "data": data, "request_id": f"rid-{digest[:12]}"})

    def do_GET(self) -> None:
        if not self.path.startswith("/img/"):
            return self.answer_json(404, {"code": 50404, "message": "not found"})
        self.server.downloads.wait(timeout=600)
        self.answer(200, _png(self.path.rsplit("/", 1)[-1].split(".")[0]), "image/png")


@pytest.fixture
def gateway() -> Iterator[HeldGateway]:
    server = HeldGateway()
    with serving(server, "held-gateway"):
        try:
            yield server
        finally:
            for gate in server.gates.values():
                gate.set()
            server.downloads.set()


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
    keys = [
        k for k in list_keys(s3, BUCKET) if not k.endswith("manifest.json") and "/thumbs/" not in k
    ]
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


def ledger_states(s3: Any, bucket: str) -> Counter[str]:
    """How many ledger entries in the bucket are held and done (``tasks.ledger_s3``)."""
    states: Counter[str] = Counter()
    for key in list_keys(s3, bucket):
        if "/.haoee-ledger/" in f"/{key}":
            states[read_json(s3, bucket, key).get("state", "?")] += 1
    return states


def logged(env: dict[str, str]) -> str:
    """What a ``haoee run`` logged so far (its debug log, ``$PREFECT_HOME/haoee.log``)."""
    path = Path(env["PREFECT_HOME"]) / "haoee.log"
    return path.read_text(errors="replace") if path.exists() else ""


WAITING = "waiting for its answer"
"""What an item logs when another run holds its paid step (``tasks.ledger``)."""


def two_machines(
    prefect_server: str, state_dir: Path, s3_server: str, gateway: HeldGateway, tmp_path: Path
) -> tuple[dict[str, str], dict[str, str]]:
    """Machines A and B with the default ledger (in the output bucket)."""
    base = subprocess_env(prefect_server, state_dir, gateway.url, s3_server)
    # No kill here: a lease long enough that a loaded machine's renewals always land.
    base["HAOEE_LOCK_LEASE_SECONDS"] = "60"
    return (
        {**machine_env(base, tmp_path / "machine-a", KEY_A), "HAOEE_LOCK_URL": "auto"},
        {**machine_env(base, tmp_path / "machine-b", KEY_B), "HAOEE_LOCK_URL": "auto"},
    )


@pytest.mark.timeout(900)
def test_two_machines_with_the_default_ledger_pay_each_image_once(
    prefect_server: str,
    state_dir: Path,
    s3_server: str,
    gateway: HeldGateway,
    tmp_path: Path,
    exposed: Any,
) -> None:
    """The same two machines and campaign with the default ledger: B, started while A's
    calls are held, finds every paid step held by A, waits, and reads A's answers from the
    ledger: 20 payments for 20 images, none twice, B's key never used."""
    bucket = BUCKET + "-ledger"
    s3 = s3_client(s3_server)
    s3.create_bucket(Bucket=bucket)
    exposed.buckets.add(bucket)
    prompts = [prompt(f"p{i}", f"a paper kite number {i}") for i in range(IMAGES)]
    doc = campaign_doc("ledger", bucket, prompts, concurrency=IMAGES, model=SYNC_MODEL)
    path = write_yaml(tmp_path / "ledger.yaml", doc)
    machine_a, machine_b = two_machines(prefect_server, state_dir, s3_server, gateway, tmp_path)
    gateway.gates[KEY_B].set()  # B is answered at once, should it pay anything
    first = start(path, machine_a, "--json")
    wait_until(lambda: gateway.calls[KEY_A] >= IMAGES, timeout=300, what="A's calls in flight")
    second = start(path, machine_b, "--json")
    wait_until(lambda: WAITING in logged(machine_b), timeout=300, what="B waiting for A")
    gateway.gates[KEY_A].set()
    out_a, _ = finish(first, exposed, "ledger-a")
    out_b, _ = finish(second, exposed, "ledger-b")
    billed = Counter(gateway.billed)
    result_a, result_b = json.loads(out_a), json.loads(out_b)
    print(f"\nledger: billable {sum(billed.values())} for {IMAGES} images")
    assert sum(billed.values()) == IMAGES and len(billed) == IMAGES
    assert gateway.calls[KEY_B] == 0, (gateway.calls, billed, result_b)  # B read A's answers
    assert result_a["done"] == result_b["done"] == IMAGES
    assert result_a["paid_twice"] == result_b["paid_twice"] == 0
    assert ledger_states(s3, bucket) == {"done": IMAGES}


@pytest.mark.timeout(900)
def test_two_campaigns_with_their_own_prefixes_on_two_machines_pay_each_shared_request_once(
    prefect_server: str,
    state_dir: Path,
    s3_server: str,
    gateway: HeldGateway,
    tmp_path: Path,
    exposed: Any,
) -> None:
    """Two overlapping campaigns: ``twin-a`` (p0..p14) and ``twin-b`` (p5..p19) share 10
    requests (same prompts and seeds), write under their own prefixes, and run on two
    machines with their own Prefect homes and result storage. Before the one ledger: 32
    billable calls for 22 distinct requests (every shared one twice), reported as none."""
    bucket = BUCKET + "-twins"
    s3 = s3_client(s3_server)
    s3.create_bucket(Bucket=bucket)
    exposed.buckets.add(bucket)

    def twin(name: str, ids: range) -> Path:
        prompts = [{**prompt(f"p{i}", f"a paper crane number {i}"), "seed": 5000 + i} for i in ids]
        doc = campaign_doc(name, bucket, prompts, concurrency=20, model=SYNC_MODEL)
        return write_yaml(tmp_path / f"{name}.yaml", doc)

    path_a, path_b = twin("twin-a", range(0, 15)), twin("twin-b", range(5, 20))
    machine_a, machine_b = two_machines(prefect_server, state_dir, s3_server, gateway, tmp_path)
    gateway.gates[KEY_B].set()  # B's own 5 requests are answered at once
    first = start(path_a, machine_a, "--json")
    wait_until(lambda: gateway.calls[KEY_A] >= 15, timeout=300, what="A's calls in flight")
    second = start(path_b, machine_b, "--json")
    wait_until(lambda: gateway.calls[KEY_B] >= 5, timeout=300, what="B's own requests paid")
    wait_until(lambda: logged(machine_b).count(WAITING) >= 10, timeout=300, what="B waits")
    gateway.gates[KEY_A].set()
    out_a, _ = finish(first, exposed, "twin-a")
    out_b, _ = finish(second, exposed, "twin-b")
    billed = Counter(gateway.billed)
    result_a, result_b = json.loads(out_a), json.loads(out_b)
    print(f"\ntwins: billable {sum(billed.values())} for 20 distinct requests")
    assert sum(billed.values()) == 20 and len(billed) == 20
    assert gateway.calls[KEY_B] == 5
    assert result_a["done"] == result_b["done"] == 15
    assert result_a["paid_twice"] == result_b["paid_twice"] == 0
    assert len([k for k in list_keys(s3, bucket, "campaigns/twin-b/") if k.endswith(".png")]) == 15


@pytest.mark.timeout(900)
def test_a_run_killed_between_answers_and_uploads_resumes_on_another_machine_unpaid(
    prefect_server: str,
    state_dir: Path,
    s3_server: str,
    gateway: HeldGateway,
    tmp_path: Path,
    exposed: Any,
) -> None:
    """Machine A is answered (file URLs whose downloads hang), its ledger entries are done,
    and A is SIGKILLed before any upload. Machine B (its own Prefect home and result
    storage, the same bucket) reruns the campaign: it reads every answer from the ledger
    and pays nothing."""
    bucket = BUCKET + "-killed"
    s3 = s3_client(s3_server)
    s3.create_bucket(Bucket=bucket)
    exposed.buckets.add(bucket)
    count = 8
    prompts = [prompt(f"p{i}", f"a paper lantern number {i}") for i in range(count)]
    doc = campaign_doc("killed", bucket, prompts, concurrency=count, model=SYNC_MODEL)
    path = write_yaml(tmp_path / "killed.yaml", doc)
    machine_a, machine_b = two_machines(prefect_server, state_dir, s3_server, gateway, tmp_path)
    gateway.urls = True
    gateway.gates[KEY_A].set()
    gateway.gates[KEY_B].set()
    first = subprocess.Popen(
        [HAOEE, "run", str(path), "--date", DAY.isoformat()],
        env=machine_a,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_until(
            lambda: ledger_states(s3, bucket)["done"] == count,
            timeout=300,
            what="A's answers in the ledger",
        )
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=60)
    assert not [k for k in list_keys(s3, bucket) if k.endswith(".png")]  # nothing uploaded
    paid = sum(gateway.billed.values())
    assert paid == count
    gateway.downloads.set()
    out, _ = finish(start(path, machine_b, "--json"), exposed, "killed-rerun")
    result = json.loads(out)
    assert result["done"] == count and result["paid_calls"] == 0
    assert sum(gateway.billed.values()) == paid and gateway.calls[KEY_B] == 0
