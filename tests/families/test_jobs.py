"""Every job family end to end over real HTTP: submit -> poll -> done -> streamed download,
one billable ledger entry per accepted submit (hash = the client's request hash)."""

from __future__ import annotations

import hashlib
import io

import pytest

from prefect_haoee.client.errors import DownloadError, TaskNotFoundError
from prefect_haoee.client.families import MEDIA_OF_KIND, JobHandle
from prefect_haoee.client.media import media_duration
from prefect_haoee.simulator import SimulatorHandle
from tests.families.support import JOB_FAMILIES, Family, Sleeps, client_for

IDS = [f.name for f in JOB_FAMILIES]


@pytest.mark.parametrize("fam", JOB_FAMILIES, ids=IDS)
def test_submit_poll_download(fsim: SimulatorHandle, fam: Family) -> None:
    request = fam.make()
    with client_for(fsim) as client:
        handle = client.submit_job(request)
        assert handle.family == request.family and handle.kind == request.kind
        assert handle.request_hash == request.request_hash
        first = client.get_job(handle)
        if first.status in ("queued", "running"):  # 60 ms of simulated work
            assert first.file_urls == []
        state = client.wait_job(handle)
        assert state.status == "succeeded" and state.progress == 1.0
        assert len(state.file_urls) == fam.files
        assert MEDIA_OF_KIND[request.kind] == fam.media
        if fam.media is None:
            image = client.download(state.file_urls[0])
            assert image.format == "PNG"
        else:
            for url in state.file_urls:
                sink = io.BytesIO()
                media = client.download_media(url, sink, fam.media)
                data = sink.getvalue()
                assert media.size == len(data) > 1000
                assert media.sha256 == hashlib.sha256(data).hexdigest()
                assert media.format == ("mp4" if fam.media == "video" else "mp3")
                assert media.duration_s == pytest.approx(fam.duration, abs=0.05)
                assert media_duration(data) == pytest.approx(fam.duration, abs=0.05)
    ledger = fsim.ledger()
    assert len(ledger) == 1, ledger
    assert ledger[0]["hash"] == request.request_hash
    assert ledger[0]["req_key"] == request.model_id
    assert ledger[0]["action"] == fam.submit_action
    assert ledger[0]["task_id"] == handle.job_id
    stats = fsim.stats()
    assert stats["billable_generations"] == 1 and stats["duplicates"] == 0
    assert stats["calls_by_action"][fam.poll_action] >= 2


@pytest.mark.parametrize("fam", JOB_FAMILIES, ids=IDS)
def test_same_request_twice_is_a_duplicate(fsim: SimulatorHandle, fam: Family) -> None:
    with client_for(fsim) as client:
        client.submit_job(fam.make())
        client.submit_job(fam.make())
        client.submit_job(fam.make(prompt="something else entirely"))
    stats = fsim.stats()
    assert stats["billable_generations"] == 3
    assert stats["duplicates"] == 1


@pytest.mark.parametrize("fam", JOB_FAMILIES, ids=IDS)
def test_unknown_job_is_not_found(fsim: SimulatorHandle, fam: Family) -> None:
    request = fam.make()
    bogus = JobHandle(
        family=request.family,
        kind=request.kind,
        job_id="123456789012345678",
        request_hash=request.request_hash,
        model=request.model_id,
        variant=request.variant,
    )
    sleeps = Sleeps()
    with client_for(fsim, sleeps) as client, pytest.raises(TaskNotFoundError):
        client.get_job(bogus)
    assert sleeps.delays == []  # not resent
    assert fsim.stats()["billable_generations"] == 0


def test_expired_job_is_not_found(fsim: SimulatorHandle) -> None:
    fam = JOB_FAMILIES[2]  # sora
    with client_for(fsim) as client:
        handle = client.submit_job(fam.make())
        fsim.advance_clock(13 * 3600)
        with pytest.raises(TaskNotFoundError, match="expired"):
            client.get_job(handle)


def test_media_link_expires_with_the_simulator_clock(fsim: SimulatorHandle) -> None:
    fam = JOB_FAMILIES[3]  # minimax: a /files/media link
    with client_for(fsim) as client:
        state = client.wait_job(client.submit_job(fam.make()))
        fsim.advance_clock(25 * 3600)
        with pytest.raises(DownloadError, match="HTTP 403"):
            client.download_media(state.file_urls[0], io.BytesIO(), "video")


def test_sora_content_needs_the_key(fsim: SimulatorHandle) -> None:
    """The sora file is the gateway's own ``/content`` link: the key goes there, only there."""
    import httpx

    fam = JOB_FAMILIES[2]
    with client_for(fsim) as client:
        state = client.wait_job(client.submit_job(fam.make()))
    url = state.file_urls[0]
    assert url.startswith(fsim.base_url) and url.endswith("/content")
    assert httpx.get(url).status_code == 401
