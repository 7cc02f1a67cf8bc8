"""The campaigns floor imports no Prefect and nothing above the client (docs/architecture.md)."""

from __future__ import annotations

import subprocess
import sys


def test_campaigns_import_no_prefect_nor_upper_floors() -> None:
    code = (
        "import sys, prefect_haoee.campaigns;"
        "bad = sorted(m for m in sys.modules if m == 'prefect' or m.startswith('prefect.')"
        " or m.startswith(('prefect_haoee.tasks', 'prefect_haoee.flows'))"
        " or m in ('prefect_haoee.cli', 'prefect_haoee.blocks'));"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
