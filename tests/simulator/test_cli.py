"""``haoee simulate`` serves until interrupted; plus the small pure helpers."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import httpx
import pytest
from pydantic import ValidationError

from prefect_haoee.client.catalog import get_spec
from prefect_haoee.simulator import SimulatorConfig, parse_fault_rates
from prefect_haoee.simulator.envelope import go_duration, new_request_id
from prefect_haoee.simulator.images import output_size


def test_cli_simulate_serves_until_interrupted() -> None:
    cmd = [
        sys.executable,
        "-c",
        "from prefect_haoee.cli import app; app()",
        "simulate",
        "--port",
        "0",
        "--latency-ms",
        "0",
        "--fault-rate",
        "429=0.1,500=0.05",
        "--qps",
        "10",
        "--concurrency",
        "5",
        "--seed",
        "1",
        "--api-key",
        "cli-key",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(4)]
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", lines[0])
        assert match, lines
        base_url = match.group(1)
        assert "HAOEE_API_KEY=cli-key" in "".join(lines)
        config = httpx.get(f"{base_url}/_sim/config").json()
        assert config["fault_rates"] == {"50429": 0.1, "50500": 0.05}
        assert config["qps"] == 10 and config["concurrency"] == 5 and config["seed"] == 1
        response = httpx.post(
            f"{base_url}/volcv/v1?Action=CVProcess&Version=2022-08-31",
            headers={"Authorization": "Bearer cli-key"},
            json={"req_key": "high_aes_general_v20_L", "prompt": "p", "seed": 1},
        )
        assert response.json()["code"] in (10000, 50429, 50500)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""


def test_cli_rejects_unknown_fault() -> None:
    from typer.testing import CliRunner

    from prefect_haoee.cli import app

    result = CliRunner().invoke(app, ["simulate", "--fault-rate", "explode=0.1"])
    assert result.exit_code == 2


def test_parse_fault_rates() -> None:
    assert parse_fault_rates("429=0.1, 500=0.05,drop=0") == {"429": 0.1, "500": 0.05, "drop": 0.0}
    with pytest.raises(ValueError):
        parse_fault_rates("429")
    with pytest.raises(ValueError):
        parse_fault_rates("429=lots")


def test_config_validation() -> None:
    assert SimulatorConfig(fault_rates={"429": 0.2, "50429": 0.1}).fault_rates == {
        "50429": pytest.approx(0.3)
    }
    with pytest.raises(ValidationError):
        SimulatorConfig(fault_rates={"500": 0.7, "drop": 0.5})
    with pytest.raises(ValidationError):
        SimulatorConfig(fault_rates={"500": 1.5})
    # expired_url is decided per file, outside the per-request budget
    SimulatorConfig(fault_rates={"500": 1.0, "expired_url": 1.0})


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.104852309, "104.852309ms"),
        (3.9656567, "3.9656567s"),
        (0.036799829, "36.799829ms"),
        (0.000512, "512µs"),
        (0.0, "0s"),
        (75.5, "1m15.5s"),
    ],
)
def test_go_duration(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text


def test_request_id_shape() -> None:
    rid = new_request_id()
    assert len(rid) == 34 and rid[:14].isdigit() and rid[14:].isupper()


def test_output_size_rules() -> None:
    spec = get_spec("jimeng_t2i_v40")
    assert output_size({}, spec) == (2048, 2048)
    assert output_size({"size": 1024 * 1024}, spec) == (1024, 1024)
    assert output_size({"width": 2304, "height": 1728, "size": 1}, spec) == (2304, 1728)
    assert output_size({"width": 512, "height": 256, "use_sr": True}, spec) == (1024, 512)
