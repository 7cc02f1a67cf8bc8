"""``--help`` shows no value type after a flag: ``--keep``, not ``--keep <bool>``.

Typer 0.29's rich help prints every option's type, flags included (even its own
``--help``), which reads as if ``--keep`` wanted a value (``--keep true``) that the command
would then refuse. Its plain help already leaves flags bare; :func:`bare_flags` makes the
rich help do the same, for every command of this process (``haoee`` is the only CLI in it).
Options that take a value keep their type (``--port <int>``).
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperOption

_typed: Any = TyperOption.display_type_rich


def _display_type(self: TyperOption, ctx: Any) -> str | None:
    if self.is_flag:
        return None
    shown: str | None = _typed(self, ctx)
    return shown


def bare_flags() -> None:
    """Idempotent: flags lose their ``<bool>`` in help from now on."""
    TyperOption.display_type_rich = _display_type  # type: ignore[method-assign]
