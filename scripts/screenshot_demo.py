"""Remake ``docs/demo-flow-run.png``: the demo campaign's flow run in the Prefect UI.

Starts a Prefect server on a free port (its own PREFECT_HOME in a temporary directory),
runs ``haoee demo --keep`` against it (the simulator and the S3 server stay up so the
gallery's presigned image links load), finds the demo's flow run with the Prefect client
and shoots its page with headless Chromium (Debian: ``apt-get install chromium``), then
stops everything it started. Needs no network.

    .venv/bin/python scripts/screenshot_demo.py                 # Artifacts tab
    .venv/bin/python scripts/screenshot_demo.py --tab Logs --out /tmp/logs.png

Run it again after a Prefect UI change; the PNG is kept under ``--max-kb``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TABS = ("Artifacts", "Logs", "TaskRuns", "Details", "Parameters")


def log(message: str) -> None:
    print(f"[screenshot] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_http(url: str, timeout: float, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited early ({process.returncode}) waiting for {url}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
            if response.status == 200:
                return
        time.sleep(0.5)
    raise TimeoutError(f"{url} not up after {timeout:.0f}s")


def stop(process: subprocess.Popen[str], first: int = signal.SIGINT) -> None:
    """Stop a process group this script started: ``first``, then SIGTERM, then SIGKILL."""
    for sig, grace in ((first, 20.0), (signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        if process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)


@contextlib.contextmanager
def prefect_server(env: dict[str, str], log_file: Path) -> Iterator[str]:
    """``prefect server start`` on a free loopback port; yields the base URL (UI at /)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # Without it the UI calls the API on the default port 4200, whatever --port says.
    server_env = {**env, "PREFECT_UI_API_URL": f"{base}/api"}
    with log_file.open("w") as out:
        process = subprocess.Popen(
            [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=server_env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        try:
            wait_http(f"{base}/api/health", 120, process)
            log(f"Prefect server up at {base}")
            yield base
        finally:
            stop(process, signal.SIGTERM)


@contextlib.contextmanager
def kept_demo(env: dict[str, str], timeout: float) -> Iterator[str]:
    """``haoee demo --keep``: waits until the run is over and the parts stay up; yields the
    output so far. Ctrl-C (SIGINT) stops it afterwards."""
    process = subprocess.Popen(
        [str(BIN / "haoee"), "demo", "--keep"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            sys.stderr.write(f"  | {line}")
            if "stay up" in line:  # the --keep message: the run is over
                ready.set()
        ready.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        if not ready.wait(timeout) or process.poll() is not None:
            raise RuntimeError(f"haoee demo did not finish and stay up (exit {process.poll()})")
        yield "".join(lines)
    finally:
        stop(process, signal.SIGINT)
        reader.join(timeout=5)


def demo_run(api_url: str) -> tuple[str, dict[str, str]]:
    """The newest run of the campaign flow (the demo's) and its artifact ids by type
    (``table``, ``markdown``), read with the Prefect client."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowFilter,
        FlowFilterName,
    )
    from prefect.client.schemas.sorting import FlowRunSort
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with (
        temporary_settings({PREFECT_API_URL: api_url}),
        get_client(sync_client=True) as client,
    ):
        runs = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["haoee-campaign"])),
            sort=FlowRunSort.START_TIME_DESC,
            limit=1,
        )
        if not runs:
            raise RuntimeError("no haoee-campaign flow run found on the server")
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[runs[0].id]))
        )
    return str(runs[0].id), {a.type: str(a.id) for a in artifacts if a.type and a.key}


def chromium_binary(given: str | None) -> str:
    for name in (given, "chromium", "chromium-browser", "google-chrome"):
        if name and (found := shutil.which(name)):
            return found
    raise SystemExit("chromium not found: apt-get install -y chromium (or pass --chromium)")


def shoot(chromium: str, url: str, out: Path, size: tuple[int, int], budget_ms: int) -> None:
    with tempfile.TemporaryDirectory(prefix="haoee-chromium-") as profile:
        command = [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            f"--window-size={size[0]},{size[1]}",
            f"--virtual-time-budget={budget_ms}",
            f"--screenshot={out}",
            url,
        ]
        log(f"shooting {url}")
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
        )
    if done.returncode != 0 or not out.exists():
        raise RuntimeError(f"chromium failed ({done.returncode}): {done.stderr[-2000:]}")


# Layout of the Prefect V2 UI at 1400 CSS px: the navigation sidebar ends at x=256, an
# artifact page's metadata column starts near x=1000. Only used to crop; after a UI change
# that moves them the composite still shows everything, just with more margin.
SIDEBAR = 256
ARTIFACT_MAIN_END = 1000
GAP = 16


def content_bottom(image: Any, left: int, right: int, margin: int = 20) -> int:
    """The last row of ``image`` between ``left`` and ``right`` that is not page
    background (the colour of the bottom right corner), plus ``margin``."""
    from PIL import Image, ImageChops

    region = image.crop((left, 0, right, image.height)).convert("RGB")
    flat = Image.new("RGB", region.size, region.getpixel((region.width - 2, region.height - 2)))
    diff = ImageChops.difference(region, flat).convert("L").point(lambda v: 255 if v > 24 else 0)
    box = diff.getbbox()
    return image.height if box is None else min(image.height, box[3] + margin)


def compose(run_page: Path, table_page: Path, gallery_page: Path, out: Path) -> None:
    """One picture: the flow run page on top (cropped below its content); under it the
    table and gallery artifact pages side by side (their main column)."""
    from PIL import Image

    run = Image.open(run_page).convert("RGB")
    run = run.crop((0, 0, run.width, content_bottom(run, SIDEBAR, run.width)))
    panels = []
    for path in (table_page, gallery_page):
        page = Image.open(path).convert("RGB")
        right = min(ARTIFACT_MAIN_END, page.width)
        panels.append(page.crop((SIDEBAR, 0, right, content_bottom(page, SIDEBAR, right))))
    background = run.getpixel((run.width - 2, run.height - 2))
    bottom_width = sum(p.width for p in panels) + GAP * (len(panels) + 1)
    width = max(run.width, bottom_width)
    height = run.height + GAP + max(p.height for p in panels) + GAP
    sheet = Image.new("RGB", (width, height), background)
    sheet.paste(run, (0, 0))
    x = GAP
    for panel in panels:
        sheet.paste(panel, (x, run.height + GAP))
        x += panel.width + GAP
    sheet.save(out)


def shrink(path: Path, max_kb: int) -> None:
    """Keep the PNG under ``max_kb``: optimised, else 256 colours, else scaled down by 3/4."""
    from PIL import Image

    image = Image.open(path).convert("RGB")
    while True:
        for candidate in (image, image.quantize(colors=256)):
            buffer = io.BytesIO()
            candidate.save(buffer, format="PNG", optimize=True)
            if buffer.tell() <= max_kb * 1024:
                break
        else:
            if image.width > 700:
                image = image.resize((image.width * 3 // 4, image.height * 3 // 4))
                continue
        break
    path.write_bytes(buffer.getvalue())
    log(f"{path}: {image.width}x{image.height}, {buffer.tell() // 1024} KB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "demo-flow-run.png")
    parser.add_argument("--tab", choices=TABS, default="Artifacts", help="Flow run page tab.")
    parser.add_argument("--ui", choices=("v2", "v1"), default="v2", help="Prefect UI version.")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=1000)
    parser.add_argument("--budget-ms", type=int, default=15000, help="Chromium virtual time.")
    parser.add_argument("--max-kb", type=int, default=400)
    parser.add_argument(
        "--single",
        action="store_true",
        help="Only the flow run page (default: with the table and gallery artifact pages).",
    )
    parser.add_argument("--chromium", help="Chromium binary (default: found on PATH).")
    args = parser.parse_args(argv)

    chromium = chromium_binary(args.chromium)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="haoee-screenshot-") as tmp:
        home = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env.update(
            {
                "PREFECT_HOME": str(home / "prefect"),
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
                "PREFECT_LOGGING_LEVEL": "WARNING",
                "COLUMNS": "200",
                "PYTHONUNBUFFERED": "1",
            }
        )
        with prefect_server(env, home / "server.log") as base:
            api_url = f"{base}/api"
            demo_env = {**env, "PREFECT_API_URL": api_url}
            with kept_demo(demo_env, timeout=300):
                run_id, artifacts = demo_run(api_url)
                ui = base + ("/v2" if args.ui == "v2" else "")
                size = (args.width, args.height)
                args.out.parent.mkdir(parents=True, exist_ok=True)
                run_url = f"{ui}/runs/flow-run/{run_id}?tab={args.tab}"
                if args.single or not {"table", "markdown"} <= set(artifacts):
                    shoot(chromium, run_url, args.out, size, args.budget_ms)
                else:
                    shots = home / "shots"
                    shots.mkdir()
                    pages = {
                        "run": run_url,
                        "table": f"{ui}/artifacts/artifact/{artifacts['table']}",
                        "gallery": f"{ui}/artifacts/artifact/{artifacts['markdown']}",
                    }
                    # The run page as wide as the two artifact panels under it.
                    wide = max(size[0], 2 * (ARTIFACT_MAIN_END - SIDEBAR) + 3 * GAP)
                    sizes = {
                        "run": (wide, size[1]),
                        "table": size,
                        "gallery": (size[0], max(size[1], 1800)),
                    }
                    for name, url in pages.items():
                        shoot(chromium, url, shots / f"{name}.png", sizes[name], args.budget_ms)
                    compose(shots / "run.png", shots / "table.png", shots / "gallery.png", args.out)
                shrink(args.out, args.max_kb)
    log(f"done in {time.perf_counter() - started:.0f}s: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
