"""The names every gateway request declares, whatever API it speaks (no imports: a leaf).

A request of any API (the Volcengine visual API, or a family of ``client/families``)
declares what it makes (:data:`MediaKind`) and the names its paid steps are committed
under (:class:`StepNames`), so that the task layer reads them instead of asking which
API the request belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MediaKind = Literal["image", "video", "music"]
"""What a request produces (the campaign item ``kind``)."""

MediaType = Literal["video", "audio"]
"""How ``download_media`` checks a streamed file."""

MEDIA_OF_KIND: dict[MediaKind, MediaType | None] = {
    "image": None,
    "video": "video",
    "music": "audio",
}
"""The ``download_media`` type of a kind's files (images go through ``download``)."""

ModeChoice = Literal["auto", "sync", "async"]
"""The mode a caller asks for; ``auto`` lets the request choose (``mode_for``)."""


@dataclass(frozen=True)
class StepNames:
    """The names of the three committed steps of one API (``haoee-<step>-<hash>``).

    They are the names earlier versions committed under: a record written by one version
    is read by the next under the same name, so these strings never change.
    """

    generate: str
    """Paid, synchronous: the finished answer."""
    submit: str
    """Paid: the accepted job (its handle)."""
    wait: str
    """Free: the answer of one handle (the step is ``<wait>-<job id>``)."""

    def wait_of(self, job_id: str) -> str:
        """The wait step of one submitted job (a resubmission is a new step)."""
        return f"{self.wait}-{job_id}"


VISUAL_STEPS = StepNames("generate", "submit", "wait")
"""The visual API's steps (``CVProcess`` / ``CVSync2AsyncSubmitTask`` / ``GetResult``)."""
FAMILY_STEPS = StepNames("images-generate", "job-submit", "job-wait")
"""Every family's steps (sync images / ``submit_job`` / ``wait_job``)."""
