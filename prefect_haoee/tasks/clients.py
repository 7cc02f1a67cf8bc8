"""Gateway clients built inside tasks, from parameters that can travel.

A live ``AsyncHaoeeClient`` (sockets, an event loop) cannot be pickled to a Dask worker
or another process, and the API key must never be a task parameter. A campaign therefore
hands its item tasks a :class:`ClientSpec` (the name of a credentials block, pool size,
rates, the name of a shared rate limit) and each task builds its client from it:

* inside :func:`shared_clients` (the campaign flow, items run in its event loop) all
  tasks of one spec share one client: one connection pool and one ``qps`` bucket;
* anywhere else (a task runner's thread, process or cluster) the task builds a client
  of its own and closes it when it ends.

``ClientSpec.rate_limit`` names a Prefect global concurrency limit with slot decay: every
attempt of a gateway call takes a slot from it first, so the rate holds across all the
processes and machines that run the campaign, not only within one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import anyio
from prefect.concurrency.asyncio import rate_limit
from pydantic import BaseModel, ConfigDict, Field

from prefect_haoee.blocks import HaoeeCredentials, named_credentials, resolve_settings
from prefect_haoee.client import AsyncHaoeeClient, HaoeeSettings


class ClientSpec(BaseModel):
    """How to build a task's gateway client: picklable, and holds no secret."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    credentials_block: str | None = None
    """A saved ``HaoeeCredentials`` block; None reads ``HAOEE_*`` from the environment."""
    max_connections: int | None = Field(default=None, ge=1)
    qps: float | None = Field(default=None, gt=0)
    """Calls per second of this process (a token bucket)."""
    rate_limit: str | None = None
    """A Prefect global concurrency limit with slot decay shared by every process."""

    async def settings(self, credentials: HaoeeCredentials | None = None) -> HaoeeSettings:
        """``credentials`` when given, else the named block, else ``HAOEE_*``; plus the
        pool size."""
        if credentials is not None:
            settings = credentials.settings()
        elif self.credentials_block:
            block = await anyio.to_thread.run_sync(named_credentials, self.credentials_block)
            settings = block.settings() if block is not None else HaoeeSettings()
        else:
            settings = HaoeeSettings()
        if self.max_connections:
            update = {"max_connections": self.max_connections}
            update["max_keepalive_connections"] = self.max_connections
            settings = settings.model_copy(update=update)
        return settings

    async def build(self, credentials: HaoeeCredentials | None = None) -> AsyncHaoeeClient:
        limiter = GlobalRateLimit(self.rate_limit) if self.rate_limit else None
        settings = await self.settings(credentials)
        return AsyncHaoeeClient(settings, qps=self.qps, limiter=limiter)


@dataclass(frozen=True)
class GlobalRateLimit:
    """Takes one slot of a Prefect global concurrency limit with slot decay per call.

    The limit must exist (``haoee deploy`` creates it): a missing one is an error, never
    a silently unlimited campaign.
    """

    name: str

    async def aacquire(self) -> None:
        await rate_limit(self.name, occupy=1, strict=True)


@dataclass
class _Shared:
    loop: asyncio.AbstractEventLoop
    clients: dict[ClientSpec, AsyncHaoeeClient] = field(default_factory=dict)


_SHARED: ContextVar[_Shared | None] = ContextVar("haoee_shared_clients", default=None)


@asynccontextmanager
async def shared_clients() -> AsyncIterator[None]:
    """Within this block, tasks running in this event loop share one client per spec."""
    scope = _Shared(asyncio.get_running_loop())
    token = _SHARED.set(scope)
    try:
        yield
    finally:
        _SHARED.reset(token)
        for client in scope.clients.values():
            await client.aclose()


async def item_client(
    client: AsyncHaoeeClient | None,
    credentials: HaoeeCredentials | None,
    spec: ClientSpec | None,
) -> tuple[AsyncHaoeeClient, bool]:
    """The client an item task uses, and whether the task must close it.

    ``client`` as given; else the shared client of ``spec`` in this event loop (see
    :func:`shared_clients`); else a new one from ``spec`` or ``credentials`` (a task in
    another thread, process or machine).
    """
    if client is not None:
        return client, False
    if spec is None:
        return AsyncHaoeeClient(resolve_settings(credentials)), True
    scope = _SHARED.get()
    if scope is not None and scope.loop is asyncio.get_running_loop():
        shared = scope.clients.get(spec)
        if shared is None:
            shared = scope.clients[spec] = await spec.build(credentials)
        return shared, False
    return await spec.build(credentials), True
