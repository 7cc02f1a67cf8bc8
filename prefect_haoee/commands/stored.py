"""What S3 already holds for a plan, read with boto3 alone (no Prefect, no prefect-aws).

``haoee plan`` must not pay Prefect's import time (seconds) to list a bucket. The client is
built as prefect-aws's ``AwsCredentials`` builds it from the standard variables (the flow
uses that block): ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/profiles, ``AWS_REGION``
or ``AWS_DEFAULT_REGION``, and ``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL``. The CLI's
bucket has no ``bucket_folder``, so keys are the plan's keys as they are; the stems found
here are the ones ``tasks.storage.list_stems`` finds.
"""

from __future__ import annotations

import os
from typing import Any


class S3Unreachable(Exception):
    """No answer from the S3 endpoint (connection refused, DNS, timeout)."""

    def __init__(self, endpoint: str, reason: str) -> None:
        self.endpoint = endpoint
        self.reason = reason
        super().__init__(f"cannot reach S3 at {endpoint}: {reason}")


class BucketUnusable(Exception):
    """S3 answered, but the bucket cannot be listed (missing, access denied), or there
    are no credentials to ask. Its message completes "bucket 'NAME' ..."."""


def endpoint() -> str | None:
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None


def s3_client() -> Any:
    import boto3
    from botocore.config import Config

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    # A closed endpoint is reported in seconds, not after botocore's default retry ladder.
    config = Config(connect_timeout=10, read_timeout=60, retries={"max_attempts": 2})
    return boto3.session.Session(region_name=region).client(
        "s3", endpoint_url=endpoint(), config=config
    )


def stored_stems(bucket: str, prefix: str) -> set[str]:
    """Every key under ``prefix`` without its extension (one LIST per 1000 keys)."""
    from botocore.exceptions import (
        ClientError,
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        ReadTimeoutError,
    )

    stems: set[str] = set()
    try:
        paginator = s3_client().get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                stems.add(item["Key"].rsplit(".", 1)[0])
    except (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError) as exc:
        raise S3Unreachable(endpoint() or "the AWS default endpoint", type(exc).__name__) from exc
    except ConnectionClosedError as exc:
        raise S3Unreachable(endpoint() or "the AWS default endpoint", "connection closed") from exc
    except NoCredentialsError:
        raise BucketUnusable(
            "cannot be read: no AWS credentials found (set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)"
        ) from None
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code == "NoSuchBucket":
            raise BucketUnusable("does not exist") from None
        raise BucketUnusable(f"cannot be read ({code or exc})") from None
    return stems
