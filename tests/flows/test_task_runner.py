"""run_campaign honours the flow's task runner, and its items travel as picklable data.

A task runner other than the default one (prefect-dask's, a process pool) gets every
batch of items through ``task.submit``; what it is handed must pickle (no live client,
no socket), and the batch builds its gateway client where it runs.
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

    submitted: list[list[str]] = []

    def duplicate(self) -> PicklingTaskRunner:
        return type(self)(max_workers=self._max_workers)

    def submit(self, task: Any, parameters: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        batch = pickle.loads(pickle.dumps(parameters))["batch"]
        type(self).submitted.append([item.object_stem for _, item in batch.items])
        return super().submit(task, parameters, *args, **kwargs)


@pytest.mark.parametrize(("batch_size", "batches"), [("", 3), ("2", 2)])
def test_items_go_through_the_flows_task_runner_with_picklable_parameters(
    prefect_server: str,
    sim: Any,
    s3_bucket: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    batch_size: str,
    batches: int,
) -> None:
    """3 items: a task run each by default (a small campaign), 2 batches of at most 2."""
    monkeypatch.setenv("HAOEE_BATCH_SIZE", batch_size)
    path = tmp_path / "runner.yaml"
    path.write_text(
        f"""
name: runner-test-{batches}
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
    assert len(PicklingTaskRunner.submitted) == batches
    stems = [stem for batch in PicklingTaskRunner.submitted for stem in batch]
    assert len(stems) == len(set(stems)) == 3
    assert sorted(r.key.rsplit(".", 1)[0] for r in result.records) == sorted(stems)
    assert sim.stats()["billable_generations"] == 3
