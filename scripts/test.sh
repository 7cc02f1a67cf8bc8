#!/usr/bin/env bash
# The project's test command: install into .venv from the lock with plain pip (python3 + pip
# are all it needs), check that the lock matches pyproject.toml, then run ruff, mypy and the
# test suite. Fails on the first of them that fails; prints each phase's wall time.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
SECONDS=0
end_phase() { [ -z "${started:-}" ] || echo "   ($((SECONDS - started)) s)"; }
phase() { end_phase; echo "== $1"; started=$SECONDS; }
trap 'end_phase; echo "== scripts/test.sh: ${SECONDS} s"' EXIT

phase "install (requirements/test.txt, then the project itself)"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# A venv made by `uv venv` has no pip of its own.
.venv/bin/python -m pip --version >/dev/null 2>&1 || .venv/bin/python -m ensurepip -q
PIP=(.venv/bin/python -m pip --disable-pip-version-check -q)
# pip before 23.3 takes a dependency's extra (prefect's httpx[http2]) for an unpinned
# requirement next to the lock's httpx==... pin and refuses the hashed install.
"${PIP[@]}" install --upgrade pip
"${PIP[@]}" install --require-hashes -r requirements/test.txt
"${PIP[@]}" install --no-deps -e .
phase "lock"
bash scripts/lock.sh --check
phase "ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
phase "mypy"
.venv/bin/mypy
phase "pytest"
.venv/bin/python -m pytest "$@"
