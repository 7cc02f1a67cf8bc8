"""One "machine" of the two-machine tests: produce N requests into a shared bucket.

Usage: python machine_script.py S3_ENDPOINT BUCKET PREFIX N
Requests alternate sync (CVProcess) and async (submit + poll). Gateway, Prefect and lock
settings come from the environment (HAOEE_*, PREFECT_HOME, PREFECT_API_URL). Prints
``ready``, waits for a line on stdin, then prints one JSON line: what each item paid.
"""

from __future__ import annotations

import asyncio
import json
import sys

from tests.support import bucket_block
from tests.tasks.produce_support import async_request, produce_all, records, sync_request


def main() -> None:
    endpoint, bucket_name, prefix, count = sys.argv[1:5]
    bucket = bucket_block(endpoint, bucket_name)
    requests = [
        sync_request(700 + i) if i % 2 == 0 else async_request(700 + i) for i in range(int(count))
    ]
    print("ready", flush=True)
    sys.stdin.readline()  # the test starts every machine at once, after their imports
    done = records(asyncio.run(produce_all(requests, bucket, prefix)))
    print(json.dumps({"paid": [r.cost_units for r in done], "sources": [r.source for r in done]}))


if __name__ == "__main__":
    main()
