"""Which gateway adapter serves a model name: one registry, filled by the adapters.

Each adapter module declares its models next to its calls (``register(ModelFamily(...))``
at import): exact names and/or name patterns, the media kind, the modes the gateway
serves and a default price hook. Campaigns ask :func:`resolve_model`; the clients ask
:func:`family_named` for the adapter of a request's ``family``. Adding a family is one
adapter module in ``prefect_haoee.client.families``: :func:`_load_adapters` imports every
module of that package (``pkgutil``), so there is no list of adapters to edit.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeAlias

import httpx

from prefect_haoee.client.calls import HttpCall
from prefect_haoee.client.catalog import Mode
from prefect_haoee.client.redact import Scrubber

Kind = Literal["image", "video", "music"]
Family: TypeAlias = str
"""The name an adapter registers: ``visual``, ``openai_images``, ``sora``, ``minimax``,
``kling``, ``suno`` built in, any other an adapter module declares."""


@dataclass(frozen=True)
class ModelInfo:
    """What the registry knows of one model name."""

    name: str
    family: Family
    kind: Kind
    modes: tuple[Mode, ...]

    @property
    def preferred_mode(self) -> Mode:
        return self.modes[0]

    def supports(self, mode: Mode) -> bool:
        return mode in self.modes

    @property
    def default_price(self) -> float | None:
        """The adapter's guessed price of one request (None when it has none)."""
        return _FAMILIES[self.family].price_of(self.name)


class AnswerReader(Protocol):
    def read_answer(self, response: httpx.Response, call: HttpCall, scrub: Scrubber) -> Any: ...


class HasModes(Protocol):
    @property
    def modes(self) -> tuple[Mode, ...]: ...


@dataclass(frozen=True)
class ModelFamily:
    """An adapter's models: ``names`` (exact, each with its ``modes``; a live mapping such
    as the req_key catalog) and ``patterns``
    (case-insensitive regexes, all with ``modes``); ``price`` per request (a GUESS)."""

    family: Family
    kind: Kind
    modes: tuple[Mode, ...] = ("async",)
    patterns: tuple[str, ...] = ()
    names: Mapping[str, HasModes] = field(default_factory=dict)
    price: float | Callable[[str], float | None] | None = None
    example: str | None = None
    rank: int = 100
    """Order of this family in listings (``examples``)."""
    adapter: AnswerReader | None = None
    """The family's adapter: it builds the family's calls and reads their answers (the
    job protocol of :mod:`prefect_haoee.client.protocol`)."""

    def match(self, name: str) -> ModelInfo | None:
        spec = self.names.get(name)
        modes = spec.modes if spec is not None else None
        if modes is None and any(re.match(p, name, re.I) for p in self.patterns):
            modes = self.modes
        return None if modes is None else ModelInfo(name, self.family, self.kind, modes)

    def price_of(self, name: str) -> float | None:
        return self.price(name) if callable(self.price) else self.price


_FAMILIES: dict[str, ModelFamily] = {}


def register(family: ModelFamily) -> ModelFamily:
    """Add (or replace) an adapter's models; called by the adapter module at import."""
    _FAMILIES[family.family] = family
    return family


def families() -> list[ModelFamily]:
    """Every registered family, in listing order (the adapters imported first)."""
    _load_adapters()
    return sorted(_FAMILIES.values(), key=lambda f: f.rank)


def family_named(name: str) -> ModelFamily:
    """The registered family ``name`` (``ValueError`` when no adapter declares it)."""
    _load_adapters()
    try:
        return _FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown family {name!r}") from None


def resolve_model(name: str) -> ModelInfo | None:
    """The family of ``name`` (exact names first, then patterns), or None."""
    found = families()
    for family in found:
        if name in family.names:
            return family.match(name)
    return next((info for f in found if (info := f.match(name)) is not None), None)


def examples() -> tuple[str, ...]:
    """One model name per pattern family (for hints and listings)."""
    return tuple(f.example for f in families() if f.example)


_loaded = False


def _load_adapters() -> None:
    """Import the visual adapter and every module of ``client.families`` once (each
    adapter registers itself when its module is imported)."""
    global _loaded
    if _loaded:
        return
    # Imported here, not at the top: the adapters import this module to register.
    import prefect_haoee.client.families as package
    import prefect_haoee.client.visual  # noqa: F401

    for module in pkgutil.iter_modules(package.__path__, f"{package.__name__}."):
        importlib.import_module(module.name)
    _loaded = True
