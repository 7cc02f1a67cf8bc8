"""A new gateway family in one file: its client adapter, its simulator adapter, this test.

``docs/architecture.md`` ("Adding a family") promises that a family needs a client
adapter, a simulator adapter and a test, and nothing else in the package. This test is
that promise kept: the toy ``echo`` video family below is declared only here, and a
campaign of its model runs end to end (registry, pricing, campaign builder, plan, batch,
item runner, polling, streamed download, S3, manifest, a free rerun) over real HTTP.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from prefect_haoee.client import registry
from prefect_haoee.client.families import FamilyRequest
from prefect_haoee.client.families.base import FamilyAdapter, JobHandle, JobStatus
from prefect_haoee.simulator.config import SimulatorConfig
from prefect_haoee.simulator.envelope import json_response
from prefect_haoee.simulator.families import FAMILIES, bodies
from prefect_haoee.simulator.families.answers import openai_error
from prefect_haoee.simulator.families.base import SimFamily
from prefect_haoee.simulator.families.call import FamilyCall
from prefect_haoee.simulator.families.jobs import one_video
from prefect_haoee.simulator.server import run_simulator

pytestmark = pytest.mark.integration

SIM_KEY = "sk-toy-family"
DAY = date(2026, 3, 1)

# -- 1. the client adapter -------------------------------------------------------------


class EchoVideoRequest(FamilyRequest):
    family: ClassVar[Any] = "echo"
    kind: ClassVar[Any] = "video"
    model: str = Field(default="echo-1", min_length=1)
    prompt: str = Field(min_length=1, max_length=500)


class EchoAdapter(FamilyAdapter):
    request_types = (EchoVideoRequest,)
    submit_path = "/echo/v1/jobs"
    poll_path = "/echo/v1/jobs/{job_id}"
    statuses: ClassVar[dict[str, JobStatus]] = {
        "waiting": "queued",
        "working": "running",
        "done": "succeeded",
        "failed": "failed",
    }
    model_patterns = (r"^echo-\d+$",)
    price = 0.05

    def files_of(self, task: Any, handle: JobHandle, base_url: str) -> dict[str, Any]:
        return {"file_urls": [u for u in task.get("videos", []) if isinstance(u, str)]}


# -- 2. the simulator adapter ----------------------------------------------------------

ECHO = SimFamily("echo", openai_error, submits=("echo.create",), polls=("echo.get",))
STATUS_TEXT = {"queued": "waiting", "running": "working", "succeeded": "done", "failed": "failed"}


@ECHO.route("POST", "/echo/v1/jobs", "echo.create")
async def create(call: FamilyCall, request: Request) -> Response:
    body = await bodies.read_json(request, call.state)
    model = bodies.require_str(body, "model") or "echo-1"
    bodies.require_str(body, "prompt")
    job = await call.submit_job(body, model, one_video(4.0))
    return json_response({"task_id": job.job_id, "status": "waiting"})


@ECHO.route("GET", "/echo/v1/jobs/{job_id}", "echo.get")
async def get(call: FamilyCall, request: Request) -> Response:
    status, job, fault = await call.poll(request.path_params["job_id"])
    answer: dict[str, Any] = {"task_id": job.job_id, "status": STATUS_TEXT[status]}
    if status == "succeeded":
        answer["videos"] = call.job_urls(job, fault)
    return json_response(answer)


# -- 3. the test -----------------------------------------------------------------------


@pytest.fixture
def echo_gateway(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The echo adapter registered (for this test only) and a simulator serving it."""
    monkeypatch.setattr(registry, "_FAMILIES", dict(registry._FAMILIES))
    EchoAdapter()
    config = SimulatorConfig(
        api_keys=(SIM_KEY,), latency_ms=5, latency_sigma=0.0, queue_fraction=0.3, seed=3
    )
    with run_simulator(config, families=(*FAMILIES, ECHO)) as handle:
        monkeypatch.setenv("HAOEE_API_KEY", SIM_KEY)
        monkeypatch.setenv("HAOEE_BASE_URL", handle.base_url)
        yield handle


def test_the_registry_prices_and_routes_the_new_family(echo_gateway: Any) -> None:
    info = registry.resolve_model("echo-7")
    assert info is not None
    assert (info.family, info.kind, info.modes, info.default_price) == (
        "echo",
        "video",
        ("async",),
        0.05,
    )


def test_a_campaign_of_the_new_family_runs_end_to_end_and_reruns_free(
    prefect_server: str, echo_gateway: Any, s3_bucket: Any, tmp_path: Path
) -> None:
    from prefect_haoee.flows import run_campaign

    path = tmp_path / "echo.yaml"
    path.write_text(
        f"""
name: echo-campaign
model: echo-1
prompts:
  - id: kite
    prompt: "a kite over the bay"
  - id: boat
    prompt: "a boat at dawn"
output: {{bucket: {s3_bucket.bucket_name}}}
"""
    )

    def run() -> Any:
        state = asyncio.run(
            run_campaign(str(path), run_date=DAY, bucket=s3_bucket, return_state=True)
        )
        assert state.is_completed(), state.message
        return state.result()

    result = run()
    assert (result.done, result.paid_calls) == (2, 2)
    assert {r.kind for r in result.records} == {"video"}
    assert echo_gateway.stats()["billable_generations"] == 2
    s3 = s3_bucket.credentials.get_s3_client()
    body = s3.get_object(Bucket=s3_bucket.bucket_name, Key=result.manifest_key)["Body"].read()
    items = json.loads(body)["items"]
    assert sorted(i["prompt_id"] for i in items) == ["boat", "kite"]
    assert all(i["key"].endswith(".mp4") and i["duration_s"] > 0 for i in items)

    rerun = run()
    assert (rerun.done, rerun.paid_calls) == (2, 0)
    assert echo_gateway.stats()["billable_generations"] == 2
