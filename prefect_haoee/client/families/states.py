"""A family job's polled state, and what a finished state means (an answer or an error).

Every family's poll is normalised into one :class:`JobState` by its adapter; the job
protocol turns a succeeded one into the one answer type of every API
(:class:`~prefect_haoee.client.responses.GeneratedImages`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from prefect_haoee.client.errors import ContentRejectedError, TaskFailedError, TransportError
from prefect_haoee.client.families.reading import JobStatus
from prefect_haoee.client.responses import GeneratedImages


class JobState(BaseModel):
    """One poll of a job, normalised across families."""

    model_config = ConfigDict(frozen=True)

    family: str
    job_id: str
    status: JobStatus
    raw_status: str | None = None
    """The status string the gateway sent (for logs)."""
    file_urls: list[str] = Field(default_factory=list)
    """Produced files: URLs (for images possibly inline base64, which ``download`` accepts)."""
    file_ids: list[str] = Field(default_factory=list)
    """Files the family names by id only (MiniMax): the client resolves them to URLs."""
    error: str | None = None
    error_code: str | None = None
    moderated: bool = False
    """The failure is a moderation refusal (raised as ``ContentRejectedError``)."""
    progress: float | None = None
    """0..1 when the gateway says."""
    extras: dict[str, Any] = Field(default_factory=dict, repr=False)
    """Family extras (suno clip titles/durations, sora size/seconds...)."""

    @property
    def finished(self) -> bool:
        return self.status in ("succeeded", "failed")

    def answer(self) -> GeneratedImages:
        """The finished answer of a succeeded job: its files, as every API answers them
        (URLs; inline base64 images when the gateway sent those instead)."""
        inline = any(not url.startswith(("http://", "https://")) for url in self.file_urls)
        files = list(self.file_urls)
        return GeneratedImages(
            urls=[] if inline else files, base64=files if inline else [], extras=self.extras
        )


def needs_file_lookup(state: JobState) -> bool:
    """A succeeded job that names its files by id only (MiniMax)."""
    return state.status == "succeeded" and bool(state.file_ids) and not state.file_urls


def raise_for_job(state: JobState) -> JobState:
    """A succeeded state with files, or the error a finished-but-unusable job means.

    ``failed`` -> :class:`ContentRejectedError` for a moderation refusal, else
    :class:`TaskFailedError` (polling again answers the same: only a new submission helps).
    """
    if state.status == "failed":
        text = f"{state.family} job {state.job_id} failed: {state.error or 'no reason given'}"
        if state.moderated:
            raise ContentRejectedError(text)
        raise TaskFailedError(text)
    if state.status == "succeeded" and not state.file_urls:
        raise TransportError(f"{state.family} job {state.job_id} succeeded without a file")
    return state
