"""The codec of committed steps: the job protocol's one handle and one answer type, and
records committed by earlier versions in shapes this one no longer writes.

A run killed after a paid submit left its task id in the old ``SubmittedGeneration``
shape; a newer worker must read it as the handle of the same task (and poll it, free),
never take it for "not there" and pay again.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from prefect_haoee.client import GeneratedImages, JobHandle
from prefect_haoee.client.requests.base import LogoInfo
from prefect_haoee.tasks.errors import UnreadableStepError
from prefect_haoee.tasks.step_json import STEP_TYPES, decode_step, dumps_step, loads_step

OLD_SUBMIT = {
    "format": "prefect-haoee/step",
    "version": 1,
    "type": "SubmittedGeneration",
    "value": {
        "request_hash": "ab" * 32,
        "req_key": "high_aes_general_v20",
        "task_id": "t-1",
        "seed": 7,
        "deterministic": True,
        "return_url": False,
        "logo_info": {"add_logo": True, "position": 2},
        "gateway_request_id": "req-9",
        "submitted_at": "2026-07-04T10:00:00Z",
    },
}


def test_the_step_types_are_the_job_protocols_handle_and_answer() -> None:
    assert {"GeneratedImages": GeneratedImages, "JobHandle": JobHandle} == STEP_TYPES


def test_a_submit_committed_in_the_old_shape_decodes_to_the_handle_of_its_task() -> None:
    handle = decode_step(OLD_SUBMIT)
    assert handle == JobHandle(
        family="visual",
        kind="image",
        job_id="t-1",
        request_hash="ab" * 32,
        model="high_aes_general_v20",
        seed=7,
        return_url=False,
        logo_info=LogoInfo(add_logo=True, position=2),
        gateway_request_id="req-9",
        submitted_at=datetime(2026, 7, 4, 10, tzinfo=timezone.utc),
    )
    assert handle.deterministic
    # Written again, it is a JobHandle document that reads back the same.
    assert loads_step(dumps_step(handle)) == handle


def test_an_old_random_submission_stays_uncacheable() -> None:
    value = {**OLD_SUBMIT["value"], "seed": None, "deterministic": False}  # type: ignore[dict-item]
    assert not decode_step({**OLD_SUBMIT, "value": value}).deterministic


def test_a_family_job_state_committed_by_an_old_wait_decodes_to_its_answer() -> None:
    answer = decode_step(
        {
            "format": "prefect-haoee/step",
            "version": 1,
            "type": "JobState",
            "value": {
                "family": "sora",
                "job_id": "video_1",
                "status": "succeeded",
                "file_urls": ["https://cdn.test/v.mp4"],
                "extras": {"seconds": "4"},
            },
        }
    )
    assert answer == GeneratedImages(urls=["https://cdn.test/v.mp4"], extras={"seconds": "4"})
    assert answer.sources() == ["https://cdn.test/v.mp4"]


def test_an_old_shape_with_missing_fields_is_unreadable_not_missing() -> None:
    with pytest.raises(UnreadableStepError, match="invalid SubmittedGeneration"):
        decode_step({**OLD_SUBMIT, "value": {"task_id": "t-1"}})
