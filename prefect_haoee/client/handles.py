"""The one handle of an accepted (billed) submission, for every gateway API.

A paid submit answers a :class:`JobHandle`; the free wait (``wait_generation``) takes it
back, and the handle's ``family`` names the adapter that polls it. It is what a run
commits as soon as the gateway accepted the job, so it carries everything a later poll
needs, on any machine: the job id, the billed model, and (visual API) the output options
each poll sends.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from prefect_haoee.client.kinds import MediaKind
from prefect_haoee.client.requests.base import LogoInfo


class JobHandle(BaseModel):
    """An accepted (billed) submission: poll it with ``wait_generation`` (any API) or
    ``get_job``/``wait_job`` (the families)."""

    model_config = ConfigDict(frozen=True)

    family: str
    """The adapter's family (``visual`` for the Volcengine visual API); an adapter module
    may add another, so this is not a closed set."""
    kind: MediaKind
    job_id: str
    """The gateway's id of the job (the visual API's ``task_id``)."""
    request_hash: str
    model: str
    """The model it is billed under (the visual API's ``req_key``)."""
    variant: str | None = None
    """Family sub-route (Kling ``text2video``/``image2video``; images ``generations``/``edits``)."""
    seed: int | None = None
    return_url: bool = True
    """Visual API: output options are applied when polling (GetResult's ``req_json``)."""
    logo_info: LogoInfo | None = None
    gateway_request_id: str | None = None
    """The gateway's request id of the submission, when it sent one."""
    submitted_at: datetime | None = None

    @property
    def deterministic(self) -> bool:
        """False only for ``seed=-1``: the poll of such a job is never committed."""
        return self.seed != -1
