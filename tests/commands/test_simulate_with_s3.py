"""``haoee simulate --with-s3`` as a user runs it for the README's own-flow example: it prints
the exports, the gateway answers with the printed key, the bucket exists on the printed S3
server, and Ctrl-C or SIGTERM stops both servers (nothing of it alive 5 s later)."""

from __future__ import annotations

import re
import signal
from pathlib import Path
from typing import Literal

import boto3
import httpx
import pytest

from tests.cli_support import clean_env, haoee
from tests.commands.processes import STOPPED_WITHIN_S, started

pytestmark = pytest.mark.integration

READY = "Ctrl-C to stop both"
EXPORT = re.compile(r"^\s*export (\w+)=(\S*)$", re.M)


@pytest.mark.parametrize(
    "how,signum,code",
    [
        ("terminal", signal.SIGINT, 130),
        ("terminal", signal.SIGTERM, 143),
        ("script", signal.SIGINT, 130),
    ],
)
def test_with_s3_prints_what_a_flow_needs_and_stops_on_a_signal(
    how: Literal["terminal", "script"], signum: int, code: int, tmp_path: Path
) -> None:
    command_line = haoee("simulate", "--with-s3", "--port", "0", "--s3-port", "0")
    with started(command_line, clean_env(tmp_path), how) as command:
        text = command.wait_for(READY, 120)
        env = dict(EXPORT.findall(text))
        assert set(env) == {
            "HAOEE_BASE_URL",
            "HAOEE_API_KEY",
            "AWS_ENDPOINT_URL",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_DEFAULT_REGION",
        }, text
        assert "bucket_name='my-images'" in text and "werkzeug" not in text and " 200 -" not in text
        body = {"req_key": "high_aes_general_v20_L", "prompt": "a lighthouse", "seed": 1}
        answer = httpx.post(
            f"{env['HAOEE_BASE_URL']}/volcv/v1?Action=CVProcess&Version=2022-08-31",
            headers={"Authorization": f"Bearer {env['HAOEE_API_KEY']}"},
            json=body,
            timeout=60,
        )
        assert answer.status_code == 200 and answer.json()["code"] == 10000, answer.text
        s3 = boto3.client(
            "s3",
            endpoint_url=env["AWS_ENDPOINT_URL"],
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=env["AWS_DEFAULT_REGION"],
        )
        s3.head_bucket(Bucket="my-images")

        if how == "terminal" and signum == signal.SIGINT:
            command.ctrl_c()
        else:
            command.signal(signum)
        assert command.wait(30) == code, command.output()[-2000:]
        assert "Traceback" not in command.output()
        left = command.survivors(within=STOPPED_WITHIN_S)
        assert not left, left
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{env['HAOEE_BASE_URL']}/_sim/stats", timeout=5)


def test_a_taken_s3_port_is_one_line(tmp_path: Path) -> None:
    import socket
    import subprocess

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = subprocess.run(
            haoee("simulate", "--with-s3", "--port", "0", "--s3-port", str(port)),
            capture_output=True,
            text=True,
            env=clean_env(tmp_path),
            timeout=120,
        )
    assert out.returncode == 1, out.stdout + out.stderr
    assert "cannot listen on 127.0.0.1" in out.stderr and "Traceback" not in out.stderr
