"""HaoeeCredentials passes Prefect's block standard tests and registers via the CLI."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.blocks.core import Block
from prefect.testing.standard_test_suites import BlockStandardTestSuite

import prefect_haoee
from prefect_haoee.blocks import HaoeeCredentials
from tests.http_support import LoopbackServer, QuietHandler, serving

LOGO = Path(prefect_haoee.__file__).parent / "assets" / "logo.png"


@pytest.fixture(scope="module")
def local_logo_url() -> Iterator[str]:
    """Serve the packaged logo on loopback: the published URL is not reachable offline."""

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            self.answer(200, LOGO.read_bytes(), "image/png")

    with serving(LoopbackServer(Handler)) as server:
        yield f"{server.url}/logo.png"


class TestHaoeeCredentialsStandard(BlockStandardTestSuite):
    @pytest.fixture
    def block(self, local_logo_url: str, monkeypatch: pytest.MonkeyPatch) -> type[Block]:
        assert str(HaoeeCredentials._logo_url).endswith("prefect_haoee/assets/logo.png")
        monkeypatch.setattr(HaoeeCredentials, "_logo_url", local_logo_url)
        return HaoeeCredentials


def test_block_round_trips_through_the_server_without_leaking(prefect_server: str) -> None:
    block = HaoeeCredentials(api_key="sk-block-secret-123456", base_url="http://127.0.0.1:9")
    block.save("test-creds", overwrite=True)
    loaded = HaoeeCredentials.load("test-creds")
    assert loaded.api_key.get_secret_value() == "sk-block-secret-123456"
    assert "sk-block-secret-123456" not in repr(loaded)
    assert loaded.settings().base_url == "http://127.0.0.1:9"
    with loaded.get_client() as client:
        assert "sk-block-secret" not in repr(client)


def test_block_register_from_module(prefect_server: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "prefect", "block", "register", "-m", "prefect_haoee"],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "PREFECT_API_URL": prefect_server},
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "haoee-credentials" in (out.stdout + out.stderr).lower().replace(" ", "-")
