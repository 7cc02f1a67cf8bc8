"""Client calls written once, run blocking or on asyncio (like httpx's ``Auth.auth_flow``).

A *flow* is a generator that yields what it needs done - :class:`Send` one attempt of an
:class:`~prefect_haoee.client.calls.HttpCall` (answered with the read response, or with
the :class:`~prefect_haoee.client.errors.HaoeeError` thrown in), or :class:`Pause` - and
returns the call's result. Every decision (retries, paid-send accounting, polling) lives
in the flows of :class:`~prefect_haoee.client.base_client.ClientBase`; the sync and async
clients only run them (``blocking`` / ``awaitable`` turn a flow into a method).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Generator
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

import httpx

from prefect_haoee.client.calls import HttpCall
from prefect_haoee.client.errors import HaoeeError

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class Send:
    """Send ``call`` once (rate limits first); the flow receives the read response."""

    call: HttpCall


@dataclass(frozen=True)
class Pause:
    seconds: float


Step = Send | Pause
Flow = Generator[Step, httpx.Response | None, T]


def advance(flow: Flow[T], reply: httpx.Response | None, error: HaoeeError | None) -> Step:
    """The flow's next step after ``reply`` (or ``error``); ``StopIteration`` when done."""
    return flow.send(reply) if error is None else flow.throw(error)


class Runner(Protocol):
    def _run(self, flow: Flow[T]) -> T: ...


class AsyncRunner(Protocol):
    async def _arun(self, flow: Flow[T]) -> T: ...


def blocking(flow: Callable[Concatenate[Any, P], Flow[T]]) -> Callable[Concatenate[Runner, P], T]:
    """A blocking client method running ``flow`` (same signature and docstring)."""

    def method(self: Runner, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._run(flow(self, *args, **kwargs))

    method.__doc__ = flow.__doc__
    method.__name__ = flow.__name__.removeprefix("_flow_")
    return method


def awaitable(
    flow: Callable[Concatenate[Any, P], Flow[T]],
) -> Callable[Concatenate[AsyncRunner, P], Coroutine[Any, Any, T]]:
    """An ``async`` client method running ``flow`` (same signature and docstring)."""

    async def method(self: AsyncRunner, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._arun(flow(self, *args, **kwargs))

    method.__doc__ = flow.__doc__
    method.__name__ = flow.__name__.removeprefix("_flow_")
    return method
