"""prefect-haoee: Haoee gateway generation as Prefect 3 workflows.

The package root imports nothing heavy: ``prefect_haoee.client`` must stay usable without
Prefect. Prefect-facing names (the credentials block) load on first access, and are listed
by ``dir()`` so ``prefect block register -m prefect_haoee`` finds them.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {"HaoeeCredentials": "prefect_haoee.blocks"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'prefect_haoee' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
