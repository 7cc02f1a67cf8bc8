"""The one job protocol every gateway API implements: the visual API and every family.

A request of any API declares what the layers above need to know (its ``family``,
``kind``, billed ``model_id``, ``request_hash``, whether it ``can_reseed`` and its
``with_seed`` copy, the ``step_names`` it is committed under, and ``mode_for`` a mode
choice). The clients take any request the same way:

| call | paid | answers |
|---|---|---|
| ``generate(request)`` | yes | :class:`~.responses.GeneratedImages` |
| ``submit_job(request)`` | yes | :class:`~.handles.JobHandle` |
| ``wait_generation(handle)`` | no | :class:`~.responses.GeneratedImages` |

Each is dispatched to the adapter the registry holds for the request's (or handle's)
``family``: :class:`JobAdapter` is what that adapter implements
(``client/visual.py``'s ``VisualAdapter``, ``client/families/base.py``'s
``FamilyAdapter``). Nobody above the client asks which API a request belongs to.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeAlias, runtime_checkable

from prefect_haoee.client.calls import HttpCall
from prefect_haoee.client.catalog import Mode
from prefect_haoee.client.families.identity import FamilyRequest
from prefect_haoee.client.flow import Flow, Sender
from prefect_haoee.client.handles import JobHandle
from prefect_haoee.client.kinds import ModeChoice
from prefect_haoee.client.registry import family_named
from prefect_haoee.client.requests.base import VisualRequest
from prefect_haoee.client.responses import GeneratedImages

AnyRequest: TypeAlias = VisualRequest | FamilyRequest
"""A request of any API: both bases declare the attributes of the protocol."""


@runtime_checkable
class JobAdapter(Protocol):
    """What an API's adapter implements (no I/O: calls to send, answers to read)."""

    family: str

    def generate_call(self, request: Any, model_name: str | None = None) -> HttpCall:
        """The paid synchronous call (``model_name``: the visual API's header override)."""

    def generated(self, answer: Any) -> GeneratedImages:
        """The finished answer of :meth:`generate_call`'s read answer."""

    def job_call(self, request: Any, *, webhook: str | None = None) -> HttpCall:
        """The paid submission."""

    def submitted(self, request: Any, answer: Any) -> JobHandle:
        """The handle of an accepted submission."""

    def poll_once(
        self, handle: JobHandle, send: Sender, base_url: str
    ) -> Flow[tuple[GeneratedImages | None, object]]:
        """One poll (free): the answer once finished, else None and the status."""


def job_adapter(family: str) -> JobAdapter:
    """The adapter the registry holds for ``family`` (``ValueError`` if it has none)."""
    adapter = family_named(family).adapter
    if not isinstance(adapter, JobAdapter):
        raise ValueError(f"the {family} family has no job adapter")
    return adapter


def resolve_mode(request: AnyRequest, mode: ModeChoice) -> Mode:
    """The mode ``request`` runs in when ``mode`` is asked (``ValueError`` if it cannot)."""
    return request.mode_for(mode)
