"""The client floor imports no Prefect module (docs/architecture.md, floor 1)."""

from __future__ import annotations

import subprocess
import sys


def test_client_imports_no_prefect() -> None:
    code = (
        "import sys, prefect_haoee.client, prefect_haoee.client.requests;"
        "bad = sorted(m for m in sys.modules if m == 'prefect' or m.startswith('prefect.'));"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
