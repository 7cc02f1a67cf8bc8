"""run_campaign honours the flow's task runner, and its items travel as picklable data.

A task runner other than the default one (prefect-dask's, a process pool) gets every
item through ``task.submit``; what it is handed must pickle (no live client, no
socket), and the task builds its gateway client where it runs.
"""

from __future__ import annotations

import asyncio
import pickle
from pathlib import Path
from typing import Any

import pytest
from prefect.task_runners import ThreadPoolTaskRunner

from prefect_haoee.flows import run_campaign

pytestmark = pytest.mark.integration


class PicklingTaskRunner(ThreadPoolTaskRunner):  # type: ignore[type-arg]
    """Threads, but every submission is pickled first (as a Dask or process runner would)."""

    submitted: list[str] = []

    def duplicate(self) -> PicklingTaskRunner:
        return type(self)(max_workers=self._max_workers)

    def submit(self, task: Any, parameters: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        pickle.loads(pickle.dumps(parameters))
        type(self).submitted.append(parameters["object_stem"])
        return super().submit(task, parameters, *args, **kwargs)


def test_items_go_through_the_flows_task_runner_with_picklable_parameters(
    prefect_server: str, sim: Any, s3_bucket: Any, tmp_path: Path
) -> None:
    path = tmp_path / "runner.yaml"
    path.write_text(
        f"""
name: runner-test
model: high_aes_general_v20_L
variants: 3
prompts:
  - id: shoe
    prompt: "a red running shoe"
output:
  bucket: {s3_bucket.bucket_name}
concurrency: 2
qps: 50
"""
    )
    PicklingTaskRunner.submitted = []
    flow = run_campaign.with_options(task_runner=PicklingTaskRunner(max_workers=2))
    state = asyncio.run(flow(str(path), bucket=s3_bucket, return_state=True))
    result = state.result(raise_on_failure=False)
    assert state.is_completed(), state.message
    assert result.done == 3 and result.paid_calls == 3
    assert len(PicklingTaskRunner.submitted) == 3
    assert sim.stats()["billable_generations"] == 3
