"""Settings read from the environment, built once per distinct environment.

A ``pydantic-settings`` model costs ~1 ms of CPU to build (it walks every source and
field), and the paid-step path reads its settings (locks, blocks) several times per image
so that a worker's environment, or a test's ``monkeypatch``, is always what counts. The
cache keeps that meaning: its key is the model's class plus every environment variable
with the model's prefix, so any change to those variables builds the model anew.
Only for models without an ``env_file`` and with an ``env_prefix``; treat what it returns
as read-only.
"""

from __future__ import annotations

import os
from threading import Lock
from typing import TypeVar

from pydantic_settings import BaseSettings

S = TypeVar("S", bound=BaseSettings)

_MAX_ENTRIES = 64
_CACHE: dict[tuple[type[BaseSettings], tuple[tuple[str, str], ...]], BaseSettings] = {}
_MUTEX = Lock()


def from_environment(cls: type[S]) -> S:
    """``cls()`` as the environment defines it now, built once per distinct environment."""
    prefix = str(cls.model_config.get("env_prefix") or "").upper()
    if not prefix or cls.model_config.get("env_file"):
        return cls()
    env = tuple(sorted((k, v) for k, v in os.environ.items() if k.upper().startswith(prefix)))
    key = (cls, env)
    found = _CACHE.get(key)
    if found is None:
        found = cls()
        with _MUTEX:
            if len(_CACHE) >= _MAX_ENTRIES:
                _CACHE.clear()
            _CACHE[key] = found
    return found  # type: ignore[return-value]
