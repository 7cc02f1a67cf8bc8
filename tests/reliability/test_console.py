"""Text from outside reaches the terminal as text: no console markup, no emoji codes.

A gateway error message holding ``[/]`` (a closing tag with nothing to close) made rich
raise ``MarkupError`` inside the flow's progress listener, which ended the campaign;
``root:x:0:0`` printed as ``root❌0:0``. A tiny gateway on 127.0.0.1 answers one prompt
with such a message and the other with an image: the run must go on, print both as they
are, and exit 1 (one item failed, the other kept).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.http_support import LoopbackServer, QuietHandler, serving
from tests.reliability.support import HAOEE, campaign_doc, prompt, subprocess_env, write_yaml
from tests.support import png_bytes

pytestmark = pytest.mark.reliability

HOSTILE = "[/] refused: root:x:0:0 [bold red]boom[/bold red] :thumbs_up: [link=file:///etc]"
PNG = png_bytes(16, 16)


class Gateway(LoopbackServer):
    calls = 0


class Handler(QuietHandler):
    server: Gateway

    def do_POST(self) -> None:
        self.server.calls += 1
        body = self.read_json()
        if "hostile" in str(body.get("prompt", "")):
            answer: dict[str, Any] = {"code": 50411, "message": HOSTILE, "request_id": "[/]r1"}
        else:
            data = {"image_urls": [f"{self.server.url}/files/ok.png"], "binary_data_base64": []}
            answer = {"code": 10000, "data": data, "request_id": "20260101console"}
        self.answer_json(200, answer)

    def do_GET(self) -> None:
        if self.path.endswith(".png"):
            self.answer(200, PNG, "image/png")
        else:
            self.answer(404, b"{}")


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    with serving(Gateway(Handler)) as server:
        yield server


def test_gateway_text_with_markup_is_printed_as_is_and_the_run_goes_on(
    prefect_server: str,
    state_dir: Path,
    s3_server: str,
    s3_bucket: Any,
    gateway: Gateway,
    tmp_path: Path,
) -> None:
    doc = campaign_doc(
        "console-markup",
        s3_bucket.bucket_name,
        [prompt("bad", "a hostile answer"), prompt("good", "a red shoe")],
        concurrency=1,
    )
    path = write_yaml(tmp_path / "markup.yaml", doc)
    env = subprocess_env(prefect_server, state_dir, gateway.url, s3_server)
    done = subprocess.run(
        [HAOEE, "run", str(path), "--date", "2026-03-01"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 1, out[-3000:]  # one item failed, the other kept
    assert "MarkupError" not in out and "Traceback" not in out, out[-3000:]
    assert HOSTILE in done.stderr, done.stderr[-3000:]  # the progress line, verbatim
    assert "root❌" not in out and "👍" not in out
    assert "1/2 image(s)" in " ".join(done.stdout.split())


def test_file_names_with_markup_are_printed_as_is(tmp_path: Path, state_dir: Path) -> None:
    folder = tmp_path / "[bold]x:x:"
    folder.mkdir()
    path = write_yaml(folder / "a[red]b[bold]:x:.yaml", {"name": "n", "colour": "red"})
    closed = "http://127.0.0.1:9"  # validate calls nothing
    env = subprocess_env(f"{closed}/api", state_dir, closed, closed)
    done = subprocess.run(
        [HAOEE, "validate", str(path)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr
    assert f"{path}: colour:" in done.stderr and "Traceback" not in done.stderr
