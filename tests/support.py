"""Constants and builders shared by every test folder."""

from __future__ import annotations

import io
import socket
from pathlib import Path
from typing import Any

from PIL import Image

SIM_KEY = "sim-test-key-0123456789"


def png_bytes(
    width: int = 8, height: int = 8, color: tuple[int, int, int] = (200, 30, 30)
) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, format="PNG")
    return buf.getvalue()


# The request body shown on the Haoee page for 通用2.0-角色特征保持 (docs/gateway.md,
# "The visual API").
SEED_EXAMPLE: dict[str, object] = {
    "req_key": "high_aes_ip_v20",
    "image_urls": ["https://xxx"],
    "prompt": "千军万马",
    "desc_pushback": True,
    "seed": -1,
    "scale": 3.5,
    "ddim_steps": 9,
    "width": 512,
    "height": 512,
    "cfg_rescale": 0.7,
    "ref_ip_weight": 0.7,
    "ref_id_weight": 0.36,
    "use_sr": True,
    "return_url": True,
    "logo_info": {
        "add_logo": False,
        "position": 0,
        "language": 0,
        "opacity": 0.3,
        "logo_text_content": "...",
    },
}


def free_port() -> int:
    """A loopback port nothing listens on (bound once, released): for a server a test
    starts on a port it must know first, or for an address that must refuse."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def s3_client(endpoint: str) -> Any:
    """A boto3 S3 client on the moto server at ``endpoint`` (its fixed test credentials)."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )


def bucket_block(endpoint: str, name: str) -> Any:
    """A prefect-aws ``S3Bucket`` block for bucket ``name`` on the moto server at ``endpoint``."""
    from prefect_aws import AwsClientParameters, AwsCredentials
    from prefect_aws.s3 import S3Bucket

    credentials = AwsCredentials(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
        aws_client_parameters=AwsClientParameters(endpoint_url=endpoint),
    )
    return S3Bucket(bucket_name=name, credentials=credentials)


def redis_server_args(binary: str, port: int, directory: Path) -> list[str]:
    """The command line of a throw-away redis-server: 127.0.0.1 only, its files in
    ``directory``, nothing persisted."""
    args = ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory)]
    return [binary, *args, "--save", "", "--appendonly", "no"]
