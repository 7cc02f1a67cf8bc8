"""``python -m prefect_haoee`` is the ``haoee`` command."""

from prefect_haoee.cli import app

app(prog_name="haoee")
