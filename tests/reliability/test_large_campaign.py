"""``haoee run`` on a campaign of thousands of CSV rows completes, and its rerun is free.

The campaign travels to Prefect by reference (``flows.campaign_param``): its flow run's
parameters stay under 10 KB whatever the campaign holds. Before, 5,000 prompts exited 1
with nothing paid (Prefect refuses flow-run parameters over 512 KB). The SHORT version
(CI) runs 600 rows; ``HAOEE_RELIABILITY=long`` runs the issue's 20,000.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli_support import run_haoee
from tests.reliability.support import scaled

pytestmark = pytest.mark.reliability

ROWS = scaled(600, 20_000)
DAY = "2026-09-09"


@pytest.mark.timeout(scaled(300, 3 * 3600))
def test_haoee_run_on_thousands_of_csv_rows_completes_and_the_rerun_pays_nothing(
    cli_env: dict[str, str], sim: Any, s3_bucket: Any, tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    rows = ["id,prompt"] + [f"r{i:05d},a paper boat on a pond take {i}" for i in range(ROWS)]
    (tmp_path / "rows.csv").write_text("\n".join(rows) + "\n")
    path = tmp_path / "rows.yaml"
    path.write_text(
        "name: many-rows\nmodel: high_aes_general_v20_L\nmode: sync\n"
        "params: {width: 256, height: 256}\nprompts:\n  - from_csv: rows.csv\n"
        f"output:\n  bucket: {s3_bucket.bucket_name}\n  prefix: rows/{{date}}\n"
        "concurrency: 32\nqps: 10000\n"
    )
    timeout = scaled(300, 5400)
    ran = run_haoee("run", str(path), "--json", "--date", DAY, env=cli_env, timeout=timeout)
    assert ran.returncode == 0, ran.stderr[-3000:]
    result = json.loads(ran.stdout)
    assert (result["done"], result["paid_calls"]) == (ROWS, ROWS), result["failures"][:3]
    assert sim.stats()["billable_generations"] == ROWS

    again = run_haoee("run", str(path), "--json", "--date", DAY, env=cli_env, timeout=timeout)
    assert again.returncode == 0, again.stderr[-3000:]
    rerun = json.loads(again.stdout)
    assert (rerun["done"], rerun["paid_calls"], rerun["stored_before"]) == (ROWS, 0, ROWS)
    assert sim.stats()["billable_generations"] == ROWS

    async def parameters() -> list[dict[str, Any]]:
        async with get_client() as client:
            name = FlowRunFilterName(any_=[f"many-rows-{DAY}"])
            runs = await client.read_flow_runs(flow_run_filter=FlowRunFilter(name=name))
            return [run.parameters for run in runs]

    both = asyncio.run(parameters())
    assert len(both) == 2, both
    for params in both:
        assert len(json.dumps(params)) < 10_000, len(json.dumps(params))
        assert (
            params["campaign"]["prompts"] == ROWS and params["campaign"]["campaign"] == "many-rows"
        )
