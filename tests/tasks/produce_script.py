"""Run produce_all in a separate process (the kill test SIGKILLs it mid-run).

Usage: python produce_script.py S3_ENDPOINT BUCKET PREFIX N
Gateway and Prefect settings come from the environment (HAOEE_*, PREFECT_*).
"""

from __future__ import annotations

import asyncio
import sys

from tests.support import bucket_block
from tests.tasks.produce_support import async_request, produce_all, records


def main() -> None:
    endpoint, bucket_name, prefix, count = sys.argv[1:5]
    bucket = bucket_block(endpoint, bucket_name)
    requests = [async_request(500 + i) for i in range(int(count))]
    done = records(asyncio.run(produce_all(requests, bucket, prefix)))
    print(len(done), "done")


if __name__ == "__main__":
    main()
