"""Run produce_all in a separate process (the kill test SIGKILLs it mid-run).

Usage: python produce_script.py S3_ENDPOINT BUCKET PREFIX N
Gateway and Prefect settings come from the environment (HAOEE_*, PREFECT_*).
"""

from __future__ import annotations

import asyncio
import sys

from prefect_aws import AwsClientParameters, AwsCredentials
from prefect_aws.s3 import S3Bucket

from tests.tasks.produce_support import async_request, produce_all, records


def main() -> None:
    endpoint, bucket_name, prefix, count = sys.argv[1:5]
    credentials = AwsCredentials(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
        aws_client_parameters=AwsClientParameters(endpoint_url=endpoint),
    )
    bucket = S3Bucket(bucket_name=bucket_name, credentials=credentials)
    requests = [async_request(500 + i) for i in range(int(count))]
    done = records(asyncio.run(produce_all(requests, bucket, prefix)))
    print(len(done), "done")


if __name__ == "__main__":
    main()
