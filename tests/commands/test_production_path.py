"""The production path: ``haoee server start``, then ``haoee serve`` on that server.

``server start`` prints the exact ``export PREFECT_API_URL=...`` line (prefect commands
and workers know no server without it); ``serve`` registers its deployments on the
running server, starting no temporary one beside it; a terminal's Ctrl-C stops it with
exit 0, no traceback, and nothing of it left (the background server stays, by design).
Without a running server, ``serve`` says its deployments live in a temporary server, and
that one stops with it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from tests.cli_support import clean_env, haoee
from tests.commands.processes import STOPPED_WITHIN_S, started

pytestmark = pytest.mark.integration

CAMPAIGN = """
name: served-here
model: high_aes_general_v20_L
mode: sync
prompts:
  - {id: p0, prompt: "a served campaign"}
output:
  bucket: never-called
"""
SERVING_S = 240


def campaign_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "campaigns"
    directory.mkdir()
    (directory / "served-here.yaml").write_text(CAMPAIGN)
    return directory


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(haoee(*args), env=env, capture_output=True, text=True, timeout=600)


def serve_then_ctrl_c(env: dict[str, str], directory: Path) -> str:
    """``haoee serve`` until it serves, then Ctrl-C; its output. Asserts a quiet stop."""
    with started(haoee("serve", str(directory)), env, "terminal") as serve:
        serve.wait_for("being served", SERVING_S)
        serve.ctrl_c()
        left = serve.survivors(within=STOPPED_WITHIN_S)
        assert not left, f"alive {STOPPED_WITHIN_S:.0f} s after Ctrl-C: {left}"
        code = serve.wait(timeout=STOPPED_WITHIN_S)
    text = serve.output()
    assert code == 0, text[-3000:]
    assert "stopped serving" in text, text[-3000:]
    for noise in ("Traceback", "websockets", "ConnectionClosed", "database is locked"):
        assert noise not in text, text[-3000:]
    return text


def test_serve_uses_the_server_that_server_start_runs(tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    address = f"http://127.0.0.1:{env['PREFECT_SERVER_API_PORT']}"
    begun = cli(env, "server", "start")
    assert begun.returncode == 0, begun.stdout + begun.stderr
    try:
        lines = [row.strip() for row in begun.stdout.splitlines()]
        assert f"export PREFECT_API_URL={address}/api" in lines, begun.stdout  # to paste
        text = serve_then_ctrl_c(env, campaign_dir(tmp_path))
        assert f"Prefect API {address}/api (local server)" in text, text[-3000:]
        assert "temporary" not in text, text[-3000:]
        found = httpx.post(f"{address}/api/deployments/filter", json={}, timeout=60)
        assert [d["name"] for d in found.json()] == ["served-here"]
        assert cli(env, "server", "status").returncode == 0  # still up: not ours to stop
    finally:
        stopped = cli(env, "server", "stop")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr


def test_serve_without_a_server_says_its_temporary_one_stops_with_it(tmp_path: Path) -> None:
    text = serve_then_ctrl_c(clean_env(tmp_path), campaign_dir(tmp_path))
    assert "Starting a temporary Prefect server" in text
    assert "the deployments live in this temporary one" in " ".join(text.split())
