"""Client calls written once, run blocking or on asyncio (like httpx's ``Auth.auth_flow``).

A *flow* is a generator that yields what it needs done - :class:`Send` one attempt of an
:class:`~prefect_haoee.client.calls.HttpCall` (answered with the read response, or with
the :class:`~prefect_haoee.client.errors.HaoeeError` thrown in), or :class:`Pause` - and
returns the call's result. Every decision (retries, paid-send accounting, polling) lives
in the flows of :class:`~prefect_haoee.client.base_client.ClientBase`; the sync and async
clients only run them (``blocking`` / ``awaitable`` turn a flow into a method).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar

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
Sender = Callable[[HttpCall], Flow[Any]]
"""The base client's send flow (its retries included), handed to an adapter's polls."""


class Driver(Generic[T]):
    """Iterates the steps of one flow; the runner sets :attr:`reply` (or :attr:`error`)
    after each :class:`Send`, and reads :attr:`result` once the iteration ends."""

    def __init__(self, flow: Flow[T]) -> None:
        self._flow = flow
        self.reply: httpx.Response | None = None
        self.error: HaoeeError | None = None

    def __iter__(self) -> Iterator[Step]:
        while True:
            try:
                if self.error is None:
                    step = self._flow.send(self.reply)
                else:
                    step = self._flow.throw(self.error)
            except StopIteration as done:
                self.result: T = done.value
                return
            self.reply, self.error = None, None
            yield step

    @contextmanager
    def answering(self) -> Iterator[None]:
        """Hand a failed attempt's error back to the flow instead of raising it here."""
        try:
            yield
        except HaoeeError as exc:
            self.error = exc


class Runner(Protocol):
    def _run(self, flow: Flow[T]) -> T: ...


class AsyncRunner(Protocol):
    async def _arun(self, flow: Flow[T]) -> T: ...


def blocking(flow: Callable[Concatenate[Any, P], Flow[T]]) -> Callable[Concatenate[Runner, P], T]:
    """A blocking client method running ``flow`` (same signature and docstring)."""

    def method(self: Runner, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._run(flow(self, *args, **kwargs))

    return _named_like(method, flow)


def awaitable(
    flow: Callable[Concatenate[Any, P], Flow[T]],
) -> Callable[Concatenate[AsyncRunner, P], Coroutine[Any, Any, T]]:
    """An ``async`` client method running ``flow`` (same signature and docstring)."""

    async def method(self: AsyncRunner, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._arun(flow(self, *args, **kwargs))

    return _named_like(method, flow)


_M = TypeVar("_M", bound=Callable[..., Any])


def _named_like(method: _M, flow: Callable[..., Any]) -> _M:
    """``method`` with the flow's name (without ``_flow_``), docstring and parameters."""
    method.__name__ = flow.__name__.removeprefix("_flow_")
    method.__qualname__ = flow.__qualname__.replace("._flow_", ".")
    method.__doc__ = flow.__doc__
    signature = inspect.signature(flow)
    method.__signature__ = signature.replace(  # type: ignore[attr-defined]
        return_annotation=inspect.Signature.empty
    )
    return method
