"""Faults on every job family over real HTTP: retried (429 with Retry-After, 500, a cut
connection), refused (auth, moderation words) or a failed job mapped onto the error tree."""

from __future__ import annotations

import pytest

from prefect_haoee.client.errors import (
    AuthenticationError,
    ContentRejectedError,
    RateLimitedError,
    ServerError,
    TaskFailedError,
)
from prefect_haoee.simulator import SimulatorHandle
from tests.families.support import JOB_FAMILIES, Family, Sleeps, client_for, post_script

IDS = [f.name for f in JOB_FAMILIES]


@pytest.mark.parametrize("fam", JOB_FAMILIES, ids=IDS)
def test_429_at_submit_is_retried_after_retry_after(fsim: SimulatorHandle, fam: Family) -> None:
    post_script(fsim, {f"{fam.submit_action}:1": "429"})
    sleeps = Sleeps()
    with client_for(fsim, sleeps) as client:
        handle = client.submit_job(fam.make())
        client.wait_job(handle)
    assert 1.0 <= sleeps.delays[0] <= 1.1  # the simulator's Retry-After: 1, jittered
    stats = fsim.stats()
    assert stats["calls_by_action"][fam.submit_action] == 2
    assert stats["calls_by_code"]["50429"] == 1
    assert stats["billable_generations"] == 1  # the refused call was free


@pytest.mark.parametrize("fam", JOB_FAMILIES, ids=IDS)
def test_500_on_a_poll_is_retried(fsim: SimulatorHandle, fam: Family) -> None:
    post_script(fsim, {f"{fam.poll_action}:1": "500", f"{fam.poll_action}:2": "drop"})
    sleeps = Sleeps()
    with client_for(fsim, sleeps) as client:
        state = client.get_job(client.submit_job(fam.make()))
    assert state.job_id and state.status != "failed"
    assert len(sleeps.delays) == 2 and all(d <= 0.02 for d in sleeps.delays)
    assert fsim.stats()["calls_by_action"][fam.poll_action] == 3


@pytest.mark.parametrize("fam", JOB_FAMILIES, ids=IDS)
def test_a_server_error_that_persists_is_raised(fsim: SimulatorHandle, fam: Family) -> None:
    post_script(fsim, {f"{fam.submit_action}:{n}": "500" for n in range(1, 5)})
    with client_for(fsim, max_attempts=3) as client, pytest.raises(ServerError):
        client.submit_job(fam.make())
    stats = fsim.stats()
    assert stats["calls_by_action"][fam.submit_action] == 3
    assert stats["billable_generations"] == 0


@pytest.mark.parametrize("fam", JOB_FAMILIES, ids=IDS)
def test_output_moderation_fails_the_job(fsim: SimulatorHandle, fam: Family) -> None:
    post_script(fsim, {f"{fam.submit_action}:1": "50511"})
    with client_for(fsim) as client:
        handle = client.submit_job(fam.make())
        with pytest.raises(ContentRejectedError, match="moderation"):
            client.wait_job(handle)
        state = client.get_job(handle)
    assert state.status == "failed" and state.moderated and state.file_urls == []
    assert fsim.stats()["billable_generations"] == 1  # accepted, so billed (as upstream)


@pytest.mark.parametrize("fam", JOB_FAMILIES, ids=IDS)
def test_a_failed_job_raises_task_failed(fsim: SimulatorHandle, fam: Family) -> None:
    post_script(fsim, {f"{fam.submit_action}:1": "task_fail"})
    with client_for(fsim) as client:
        handle = client.submit_job(fam.make())
        with pytest.raises(TaskFailedError) as info:
            client.wait_job(handle)
    assert not info.value.retryable
    assert handle.job_id in str(info.value)


@pytest.mark.parametrize("fam", JOB_FAMILIES, ids=IDS)
def test_a_moderation_word_is_refused_at_submit(fsim: SimulatorHandle, fam: Family) -> None:
    sleeps = Sleeps()
    with client_for(fsim, sleeps) as client, pytest.raises(ContentRejectedError) as info:
        client.submit_job(fam.make(prompt="a blocked-text prompt"))
    assert info.value.http_status == 400
    assert sleeps.delays == []
    assert fsim.stats()["billable_generations"] == 0


@pytest.mark.parametrize("fam", JOB_FAMILIES, ids=IDS)
def test_a_wrong_key_is_refused(fsim: SimulatorHandle, fam: Family) -> None:
    from pydantic import SecretStr

    with (
        client_for(fsim, api_key=SecretStr("not-the-key")) as client,
        pytest.raises(AuthenticationError) as info,
    ):
        client.submit_job(fam.make())
    assert info.value.http_status == 401
    assert "not-the-key" not in str(info.value)


def test_fault_rates_apply_to_the_families(fsim: SimulatorHandle) -> None:
    from prefect_haoee.simulator import run_simulator
    from tests.families.support import fam_config

    with run_simulator(fam_config(fault_rates={"429": 1.0})) as sim:
        with client_for(sim, max_attempts=2) as client, pytest.raises(RateLimitedError):
            client.submit_job(JOB_FAMILIES[2].make())
        stats = sim.stats()
    assert stats["faults_injected"]["50429"] == 2
    assert stats["billable_generations"] == 0


def test_the_fault_script_endpoint_refuses_unknown_actions(fsim: SimulatorHandle) -> None:
    import httpx

    url = f"{fsim.base_url}/_sim/families/fault_script"
    bad_action = httpx.post(url, json={"fault_script": {"nope:1": "429"}})
    bad_fault = httpx.post(url, json={"fault_script": {"sora.create:1": "bogus"}})
    assert bad_action.status_code == 400 and "ACTION:N" in bad_action.json()["error"]
    assert bad_fault.status_code == 400
