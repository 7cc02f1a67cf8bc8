"""Helpers of the reliability suite.

Scale: the suite runs a SHORT version by default (CI, a few minutes on 2 cores) and the
issue's full numbers with ``HAOEE_RELIABILITY=long``.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Coroutine, Iterable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest
import yaml

from tests.support import bucket_block as bucket_block
from tests.support import free_port as free_port
from tests.support import png_bytes
from tests.support import s3_client as s3_client

LONG = os.environ.get("HAOEE_RELIABILITY", "").strip().lower() == "long"

# The key every simulator of this suite accepts; the secrets test scans for it everywhere.
REL_KEY = "rel-secret-key-5f0c2a9e7b"
# The key a hostile gateway echoes back (test_rel_key_scrub): scanned for in fragments too.
ECHO_KEY = "hk-live-7Qz9LmX2pV4tR8sW1nB6yC3d"

VENV_BIN = Path(sys.executable).parent
HAOEE = str(VENV_BIN / "haoee")

SYNC_MODEL = "high_aes_general_v20_L"  # sync preferred
ASYNC_MODEL = "high_aes_general_v20"  # async only

T = TypeVar("T")


def scaled(short: T, long: T) -> T:
    return long if LONG else short


def wait_until(
    check: Callable[[], T], *, timeout: float, interval: float = 0.05, what: str = "condition"
) -> T:
    """Poll ``check`` until it returns something truthy (bounded); return that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def prompt(
    pid: str,
    text: str,
    *,
    model: str | None = None,
    variants: int | None = None,
    mode: str | None = None,
    **params: Any,
) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": pid, "prompt": text}
    if model:
        entry["model"] = model
    if variants is not None:
        entry["variants"] = variants
    if mode:
        entry["mode"] = mode
    if params:
        entry["params"] = params
    return entry


def campaign_doc(
    name: str,
    bucket: str,
    prompts: list[dict[str, Any]],
    *,
    variants: int = 1,
    concurrency: int = 5,
    qps: float = 50.0,
    model: str = SYNC_MODEL,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "name": name,
        "model": model,
        "variants": variants,
        "params": {"width": 256, "height": 256},
        "prompts": prompts,
        "output": {"bucket": bucket, "prefix": "campaigns/{name}/{date}"},
        "concurrency": concurrency,
        "qps": qps,
        **extra,
    }


def write_yaml(path: Path, doc: Any) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def scanned_bucket(endpoint: str, bucket: str, exposed: Any) -> Any:
    """Create ``bucket`` on the S3 server at ``endpoint`` and name it for the final secrets
    scan (which reads back every object of it); a client of that server."""
    s3 = s3_client(endpoint)
    s3.create_bucket(Bucket=bucket)
    exposed.buckets.add(bucket)
    return s3


def set_env(monkeypatch: Any, env: dict[str, str]) -> None:
    """Set each of ``env`` in this process for the test (a run in this process reads it)."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def list_keys(s3: Any, bucket: str, prefix: str = "") -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    return keys


def read_json(s3: Any, bucket: str, key: str) -> Any:
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def client_env(sim_url: str, *, read_timeout: float | None = None) -> dict[str, str]:
    """``HAOEE_*`` for a fast run against a simulator (small backoffs)."""
    env = {
        "HAOEE_API_KEY": REL_KEY,
        "HAOEE_BASE_URL": sim_url,
        "HAOEE_BACKOFF_BASE": "0.02",
        "HAOEE_BACKOFF_MAX": "0.1",
        "HAOEE_RETRY_AFTER_MAX": "0.1",
    }
    if read_timeout is not None:
        env["HAOEE_READ_TIMEOUT"] = str(read_timeout)
    return env


def subprocess_env(
    prefect_api: str, state_dir: Path, sim_url: str, s3_url: str, **extra: str
) -> dict[str, str]:
    """The environment of a ``haoee run`` child: same Prefect server, result storage and
    lock dir as this process, the simulator, and moto's S3 server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HAOEE_", "AWS_", "PYTEST"))}
    env.update(client_env(sim_url))
    env.update(
        {
            "PREFECT_API_URL": prefect_api,
            "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(state_dir / "results"),
            "PREFECT_LOCAL_STORAGE_PATH": str(state_dir / "results"),
            "HAOEE_LOCK_DIR": str(state_dir / "locks"),
            # A killed child's claims in the bucket expire within seconds, not a minute.
            "HAOEE_LOCK_LEASE_SECONDS": "5",
            "AWS_ENDPOINT_URL_S3": s3_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "PREFECT_LOGGING_LEVEL": "INFO",
            "NO_COLOR": "1",
            "COLUMNS": "200",
        }
    )
    env.update(extra)
    return env


def run_doc(tmp_path: Path, doc: dict[str, Any], run_date: date, bucket: Any) -> tuple[Any, Any]:
    """Write ``doc`` as ``<name>.yaml`` in ``tmp_path`` and run the campaign flow in this
    process: its final state and ``CampaignResult`` (also when some items failed)."""
    from prefect_haoee.flows import CampaignResult, run_campaign

    path = write_yaml(tmp_path / f"{doc['name']}.yaml", doc)
    flow_call = run_campaign(str(path), run_date=run_date, bucket=bucket, return_state=True)
    state = asyncio.run(cast(Coroutine[Any, Any, Any], flow_call))
    result = state.result(raise_on_failure=False)
    assert isinstance(result, CampaignResult), state.message
    return state, result


def billed_hashes(ledger: Iterable[dict[str, Any]]) -> list[str]:
    return [entry["hash"] for entry in ledger]


# -- loading a campaign file in a child capped in memory and time ---------------------------

CHILD_AS_BYTES = 1_500_000_000
CHILD_TIMEOUT = 40.0

# Loads one campaign file and prints what happened, timed inside the child (imports apart).
CHILD = """
import json, resource, sys, time
from prefect_haoee.campaigns import CampaignError, load_campaign
start = time.monotonic()
try:
    load_campaign(sys.argv[1])
    out = {"ok": True}
except CampaignError as exc:
    out = {"ok": False, "problems": exc.as_dicts()}
out["seconds"] = time.monotonic() - start
# This process's own peak (VmHWM is reset by exec; ru_maxrss keeps the peak of the forked
# test process, hundreds of MB late in a full run).
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")]
out["max_rss_kb"] = (
    int(hwm[0].split()[1]) if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
)
print(json.dumps(out))
"""


def cap_memory() -> None:
    """``preexec_fn`` of a child: at most :data:`CHILD_AS_BYTES` of address space."""
    resource.setrlimit(resource.RLIMIT_AS, (CHILD_AS_BYTES, CHILD_AS_BYTES))


def load_in_child(path: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    """``load_campaign(path)`` in a memory-capped child with a timeout: ``ok`` or its
    ``problems``, ``seconds`` and the child's own peak RSS (``max_rss_kb``, VmHWM)."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(path)],
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT,
            preexec_fn=cap_memory,
            env={**os.environ, **(env or {})},
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"loading {path.name} did not finish in {CHILD_TIMEOUT:.0f} s")
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def sparse_png(path: Path, size: int, color: tuple[int, int, int] = (200, 30, 30)) -> Path:
    """A valid 16x16 PNG of exactly ``size`` bytes on disk, almost all of it a private
    ancillary chunk of zeros written as a hole (a sparse file: no disk, no time), that
    Pillow opens and verifies: a big reference image for free."""
    small = png_bytes(16, 16, color)
    head, tail = small[:33], small[33:]  # signature + IHDR | IDAT, IEND
    pad = size - len(small) - 12
    crc = zlib.crc32(b"prVt")
    zeros = bytes(1 << 20)
    for start in range(0, pad, len(zeros)):
        crc = zlib.crc32(zeros[: min(len(zeros), pad - start)], crc)
    with path.open("wb") as out:
        out.write(head + struct.pack(">I", pad) + b"prVt")
        out.seek(pad, os.SEEK_CUR)
        out.write(struct.pack(">I", crc) + tail)
    return path
