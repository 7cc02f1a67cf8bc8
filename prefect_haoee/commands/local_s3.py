"""A local S3 server (moto's ``ThreadedMotoServer``) for ``haoee demo`` and ``haoee simulate
--with-s3``: started on loopback in this process, stopped with the command.

moto is the ``demo`` extra (``pip install 'prefect-haoee[demo]'``); :func:`moto_missing`
tells the command to say so instead of failing on the import. moto's server accepts any
credentials: :data:`LOCAL_AWS` are the ones the commands print and set.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

from prefect_haoee.commands.render import say_error

LOCAL_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
"""Credentials and region for the local server (any value works; these are printed)."""


def moto_missing(command: str) -> bool:
    """True, after saying how to install it, when moto is not installed."""
    try:
        import moto.server  # noqa: F401
    except ImportError:
        say_error(
            (f"{command} needs moto (a local S3 server): ", "bold red"),
            "pip install 'prefect-haoee[demo]'",
        )
        return True
    return False


def check_port(host: str, port: int) -> None:
    """OSError when ``host:port`` is taken (moto would only fail in its own thread)."""
    if port:
        with socket.socket() as probe:
            probe.bind((host, port))


@contextmanager
def local_s3(host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """moto's S3 server on ``host:port`` (0: a free port) until the block ends; yields
    its endpoint URL, ``http://HOST:PORT``."""
    from moto.server import ThreadedMotoServer

    check_port(host, port)
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    try:
        bound_host, bound_port = server.get_host_and_port()
        yield f"http://{bound_host}:{bound_port}"
    finally:
        server.stop()


def create_bucket(endpoint: str, name: str) -> None:
    """Create bucket ``name`` on the local server (an existing one is kept)."""
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=LOCAL_AWS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_AWS["AWS_SECRET_ACCESS_KEY"],
        region_name=LOCAL_AWS["AWS_DEFAULT_REGION"],
    )
    existing = {bucket["Name"] for bucket in client.list_buckets().get("Buckets", [])}
    if name not in existing:
        client.create_bucket(Bucket=name)
