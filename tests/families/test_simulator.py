"""The simulator's family endpoints at the HTTP level: X-Sim-Fault, limits, reset, files."""

from __future__ import annotations

import struct
from typing import Any

import httpx
import pytest

from prefect_haoee.client.families import SoraVideoRequest
from prefect_haoee.simulator import SimulatorHandle, run_simulator
from tests.families.support import FAM_KEY, Sleeps, client_for, fam_config

AUTH = {"Authorization": f"Bearer {FAM_KEY}"}
SORA_BODY = {"model": "sora-2", "prompt": "a kite", "seconds": "4", "size": "720x1280"}


def post(sim: SimulatorHandle, path: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    return httpx.post(f"{sim.base_url}{path}", json=body, headers={**AUTH, **headers}, timeout=5)


def test_x_sim_fault_header(fsim: SimulatorHandle) -> None:
    refused = post(fsim, "/v1/videos", SORA_BODY, **{"X-Sim-Fault": "429"})
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    suno = post(
        fsim, "/suno/submit/music", {"gpt_description_prompt": "x"}, **{"X-Sim-Fault": "500"}
    )
    assert suno.status_code == 500 and suno.json() == {
        "code": "server_error",
        "message": "Internal Error: simulated fault",
        "data": None,
    }
    kling = post(
        fsim,
        "/kling/v1/videos/text2video",
        {"model_name": "kling-v2-6", "prompt": "x"},
        **{"X-Sim-Fault": "50412"},
    )
    assert kling.status_code == 400 and kling.json()["code"] == 1301
    failing = post(fsim, "/v1/videos", SORA_BODY, **{"X-Sim-Fault": "task_fail"})
    assert failing.status_code == 200  # accepted and billed; the job fails later
    bad = post(fsim, "/v1/videos", SORA_BODY, **{"X-Sim-Fault": "nonsense"})
    assert bad.status_code == 400
    stats = fsim.stats()
    assert stats["billable_generations"] == 1
    assert stats["faults_injected"] == {"50429": 1, "50500": 1, "50412": 1, "task_fail": 1}


def test_qps_limit_applies_to_family_calls() -> None:
    with run_simulator(fam_config(qps=2)) as sim:

        class ClockSleeps(Sleeps):
            def __call__(self, seconds: float) -> None:
                self.delays.append(seconds)
                sim.advance_clock(seconds)  # the QPS window runs on the simulator clock

        sleeps = ClockSleeps()
        with client_for(sim, sleeps) as client:
            for _ in range(3):
                client.submit_job(SoraVideoRequest(prompt="a kite"))
        stats = sim.stats()
    assert len(sleeps.delays) == 1 and 1.0 <= sleeps.delays[0] <= 1.1  # Retry-After, jittered
    assert stats["calls_by_code"]["50429"] >= 1
    assert stats["billable_generations"] == 3 and stats["duplicates"] == 2


def test_reset_forgets_family_jobs(fsim: SimulatorHandle) -> None:
    with client_for(fsim) as client:
        handle = client.submit_job(SoraVideoRequest(prompt="a kite"))
        assert httpx.get(f"{fsim.base_url}/_sim/families/jobs").json()["jobs_by_status"]
        fsim.reset()
        from prefect_haoee.client.errors import TaskNotFoundError

        with pytest.raises(TaskNotFoundError):
            client.get_job(handle)
    assert fsim.stats()["billable_generations"] == 0


def test_served_mp4_is_a_valid_box_tree(fsim: SimulatorHandle) -> None:
    with client_for(fsim) as client:
        state = client.wait_job(client.submit_job(SoraVideoRequest(prompt="a kite", seconds="12")))
    response = httpx.get(state.file_urls[0], headers=AUTH)
    assert response.headers["content-type"] == "video/mp4"
    data, boxes, pos = response.content, [], 0
    while pos < len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        boxes.append(kind)
        if kind == b"moov":
            assert data[pos + 12 : pos + 16] == b"mvhd"
            timescale, duration = struct.unpack(">II", data[pos + 28 : pos + 36])
            assert duration / timescale == 12.0
        pos += size
    assert pos == len(data) and boxes == [b"ftyp", b"mdat", b"moov"]


def test_unknown_media_file_is_404(fsim: SimulatorHandle) -> None:
    response = httpx.get(f"{fsim.base_url}/files/media/nope.mp4")
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("body", "size"),
    [
        ({"aspect_ratio": "16:9"}, (1024, 576)),
        ({"aspect_ratio": "3:4", "image_size": "2K"}, (1536, 2048)),
        ({"size": "2K"}, (2048, 2048)),
        ({"size": "300x200"}, (300, 200)),
    ],
)
def test_image_dimensions(
    fsim: SimulatorHandle, body: dict[str, Any], size: tuple[int, int]
) -> None:
    import io

    from PIL import Image

    answer = post(fsim, "/v1/images/generations", {"model": "nano-banana", "prompt": "x", **body})
    assert answer.status_code == 200, answer.text
    png = httpx.get(answer.json()["data"][0]["url"]).content
    with Image.open(io.BytesIO(png)) as img:
        assert img.size == size
