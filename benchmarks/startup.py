"""Start-up cost of the ``haoee`` command, as a user pays it.

Each figure is the wall time of a fresh process (median of ``--repeat`` runs unless said):

* ``python_pass_s``: ``python -c pass``, the floor of any Python command here;
* ``prefect_version_s``: ``prefect version``, the floor of any Prefect command;
* ``import_cli_s``: ``import prefect_haoee.cli``; ``import_flows_s``: the flow stack that
  ``haoee run`` needs (``prefect_haoee.flows``: Prefect, prefect-aws, boto3);
* ``help_s``, ``validate_s`` (a 3-prompt file), ``plan_s`` (against moto's S3 server);
* ``run_cached_*``: ``haoee run`` of a one-image campaign whose image is already in S3
  (nothing paid), with (a) ``temporary``: no Prefect server running, so the command starts
  a temporary one (first run on a fresh ``PREFECT_HOME``, then again on the same home);
  (b) ``local_server``: a ``prefect server start`` already running on this machine and no
  ``PREFECT_API_URL`` (the command has to find it), and ``api_url``: the same server named
  by ``PREFECT_API_URL``;
* ``modules``: how many ``prefect*``/``prefect_aws``/``moto`` modules ``--help``,
  ``validate`` and ``plan`` load;
* ``loadavg``: ``/proc/loadavg`` at the start and at the end (other work on the machine
  skews every figure).

The gateway simulator and moto's S3 server run in processes of their own; every Prefect
state (homes, result storage, lock files) lives in a temporary directory.

    .venv/bin/python benchmarks/startup.py [--repeat 3]

Prints one JSON line on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from _common import API_KEY, SimSettings, campaign_yaml, machine, services

DAY = "2026-01-15"
MODULES = (
    "import sys, runpy\n"
    "sys.argv = ['haoee', *sys.argv[1:]]\n"
    "try:\n"
    "    runpy.run_module('prefect_haoee', run_name='__main__')\n"
    "except SystemExit:\n"
    "    pass\n"
    "names = [m.split('.')[0] for m in sys.modules]\n"
    "print({p: names.count(p) for p in ('prefect', 'prefect_aws', 'moto')}, file=sys.stderr)\n"
)


def loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def once(cmd: list[str], env: dict[str, str], check: bool = True) -> float:
    started = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    seconds = time.perf_counter() - started
    if check and out.returncode != 0:
        raise RuntimeError(
            f"{cmd} exited {out.returncode}: {out.stdout[-2000:]}{out.stderr[-3000:]}"
        )
    return seconds


def timed(cmd: list[str], env: dict[str, str], repeat: int) -> float:
    return round(statistics.median(once(cmd, env) for _ in range(repeat)), 3)


def attempt(cmd: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Seconds and exit code of one run, with the last line it printed if it failed."""
    started = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    result: dict[str, Any] = {"s": round(time.perf_counter() - started, 3), "exit": out.returncode}
    if out.returncode != 0:
        lines = [line for line in (out.stderr + out.stdout).splitlines() if line.strip()]
        result["error"] = lines[-1][:300] if lines else ""
    return result


def haoee(*args: str) -> list[str]:
    return [sys.executable, "-m", "prefect_haoee", *args]


def modules_loaded(args: list[str], env: dict[str, str]) -> dict[str, int]:
    out = subprocess.run(
        [sys.executable, "-c", MODULES, *args], env=env, capture_output=True, text=True
    )
    counts: dict[str, int] = eval(out.stderr.strip().splitlines()[-1])
    return counts


@contextmanager
def prefect_server(home: Path, port: int, env: dict[str, str]) -> Iterator[str]:
    """``prefect server start`` on 127.0.0.1:port (UI on, as a user runs it)."""
    log = (home / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1"]
        + ["--port", str(port)],
        env={**env, "PREFECT_HOME": str(home)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 300
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"prefect server exited {proc.returncode}")
            try:
                if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("prefect server did not start in 300 s")
            time.sleep(0.25)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    load_start = loadavg()
    out: dict[str, Any] = {"benchmark": "startup", "repeat": args.repeat}
    with tempfile.TemporaryDirectory(prefix="haoee-startup-") as tmp:
        root = Path(tmp)
        for name in ("home-temporary", "home-local", "home-cli"):
            (root / name).mkdir()
        base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "HAOEE_"))}
        base.update(
            PREFECT_HOME=str(root / "home-cli"),
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            DO_NOT_TRACK="1",
            HAOEE_LOCK_DIR=str(root / "locks"),
            PREFECT_RESULTS_LOCAL_STORAGE_PATH=str(root / "results"),
            PYTHONDONTWRITEBYTECODE="0",
            COLUMNS="120",
        )
        py = [sys.executable, "-c"]
        out["python_pass_s"] = timed([*py, "pass"], base, args.repeat)
        prefect_cli = str(Path(sys.executable).with_name("prefect"))
        out["prefect_version_s"] = timed([prefect_cli, "version"], base, args.repeat)
        out["import_cli_s"] = timed([*py, "import prefect_haoee.cli"], base, args.repeat)
        out["import_flows_s"] = timed([*py, "import prefect_haoee.flows"], base, args.repeat)
        out["help_s"] = timed(haoee("--help"), base, args.repeat)

        with services(SimSettings(latency_ms=50, sigma=0.0)) as svc:
            bucket = "startup-bench"
            import boto3

            boto3.client(
                "s3",
                endpoint_url=svc.s3_url,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                region_name="us-east-1",
            ).create_bucket(Bucket=bucket)
            env = {
                **base,
                "HAOEE_API_KEY": API_KEY,
                "HAOEE_BASE_URL": svc.sim_url,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_ENDPOINT_URL_S3": svc.s3_url,
            }
            three = root / "three.yaml"
            three.write_text(
                campaign_yaml("startup-three", bucket, 3, concurrency=1, qps=10, per_prompt=1)
            )
            one = root / "one.yaml"
            one.write_text(campaign_yaml("startup-one", bucket, 1, concurrency=1, qps=10))
            out["validate_s"] = timed(haoee("validate", str(three)), env, args.repeat)
            out["plan_s"] = timed(haoee("plan", str(one), "--date", DAY), env, args.repeat)
            out["modules"] = {
                "help": modules_loaded(["--help"], env),
                "validate": modules_loaded(["validate", str(three)], env),
                "plan": modules_loaded(["plan", str(one), "--date", DAY], env),
            }
            port = free_port()
            local = root / "home-local"
            with prefect_server(local, port, base) as api_url:
                run = haoee("run", str(one), "--date", DAY)
                paid = once(run, {**env, "PREFECT_API_URL": api_url})  # pays the one image
                out["run_paying_api_url_s"] = round(paid, 3)
                found = {**env, "PREFECT_HOME": str(local), "PREFECT_SERVER_API_PORT": str(port)}
                named = {**env, "PREFECT_API_URL": api_url}
                times: dict[str, list[float]] = {"found": [], "named": []}
                for _ in range(args.repeat):  # interleaved: the same machine state for both
                    times["found"].append(once(run, found))
                    times["named"].append(once(run, named))
                out["run_cached_local_server_s"] = round(statistics.median(times["found"]), 3)
                out["run_cached_api_url_s"] = round(statistics.median(times["named"]), 3)
            # No server running: PREFECT_SERVER_API_PORT names a port nothing listens on.
            temporary = {
                **env,
                "PREFECT_HOME": str(root / "home-temporary"),
                "PREFECT_SERVER_API_PORT": str(free_port()),
            }
            out["run_cached_temporary_server"] = {
                "fresh_home": attempt(run, temporary),
                "same_home": attempt(run, temporary),
            }
            stats = svc.sim_stats()
            out["billable_generations"] = stats["billable_generations"]
    out["loadavg"] = {"start": load_start, "end": loadavg()}
    out["machine"] = machine()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
