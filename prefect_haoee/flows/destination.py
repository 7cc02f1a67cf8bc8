"""Where a campaign's images go: the S3 bucket block and the prefixes of a plan."""

from __future__ import annotations

import os

from prefect_aws import AwsClientParameters, AwsCredentials
from prefect_aws.s3 import S3Bucket

from prefect_haoee.blocks import named_bucket
from prefect_haoee.campaigns import Campaign


def campaign_bucket(campaign: Campaign, bucket: S3Bucket | None = None) -> S3Bucket:
    """The given block, else the named one (``output.bucket_block``, else
    ``HAOEE_BUCKET_BLOCK``), else one for ``output.bucket`` from the standard AWS variables.

    boto3 reads ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_REGION``/profiles and
    ``AWS_ENDPOINT_URL_S3``/``AWS_ENDPOINT_URL`` by itself; the endpoint is passed explicitly
    too so that older botocore versions and presigned URLs agree.
    """
    if bucket is not None:
        return bucket
    block = named_bucket(campaign.output.bucket_block)  # or HAOEE_BUCKET_BLOCK
    if block is not None:
        if block.bucket_name != campaign.output.bucket:
            raise ValueError(
                f"output.bucket is {campaign.output.bucket!r} but the S3Bucket block holds "
                f"{block.bucket_name!r}"
            )
        return block
    return default_bucket(campaign.output.bucket)


def default_bucket(name: str) -> S3Bucket:
    """A block for bucket ``name`` with the standard AWS variables' credentials."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    params = AwsClientParameters(endpoint_url=endpoint) if endpoint else AwsClientParameters()
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    credentials = AwsCredentials(region_name=region, aws_client_parameters=params)
    return S3Bucket(bucket_name=name, credentials=credentials)


def manifest_key(base_prefix: str) -> str:
    return f"{base_prefix}/manifest.json" if base_prefix else "manifest.json"
