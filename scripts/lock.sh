#!/usr/bin/env bash
# The locks: requirements/{runtime,demo,test}.txt, pinned with hashes, made from
# pyproject.toml by `uv pip compile` and installed by plain pip (--require-hashes).
#
#   bash scripts/lock.sh            re-resolve after a pyproject change; pins that still fit stay
#   bash scripts/lock.sh --upgrade  move every pin to the newest release pyproject allows
#   bash scripts/lock.sh --check    exit 1 if a lock was not made from pyproject's current
#                                   dependency sections (no network: scripts/test.sh runs it)
#
# The check compares a fingerprint (sha256 of requires-python, dependencies,
# optional-dependencies and the compile options below) written into each lock's header, so a
# new release on PyPI never makes the lock "stale"; only a change to what we ask for does.
# tests/test_packaging.py checks that every pin satisfies what pyproject asks for.
#
# Universal resolution (--universal, Python >= 3.11): one file serves Linux, macOS and
# Windows on Python 3.11 and later, with environment markers where the answers differ.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] && PY=.venv/bin/python
LOCKS="runtime: demo:demo test:test"  # file:extra
OPTIONS="--universal --python-version 3.11 --generate-hashes"

fingerprint() {
  "$PY" - "$OPTIONS" <<'EOF'
import hashlib, json, sys
try:
    import tomllib
except ImportError:  # an older python3 running this script: the copy pip carries
    from pip._vendor import tomli as tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
asked = {
    "requires-python": project.get("requires-python"),
    "dependencies": project.get("dependencies", []),
    "optional-dependencies": project.get("optional-dependencies", {}),
    "options": sys.argv[1],
}
print(hashlib.sha256(json.dumps(asked, sort_keys=True).encode()).hexdigest())
EOF
}

MARK="# pyproject fingerprint (scripts/lock.sh --check):"
want=$(fingerprint)

if [ "${1:-}" = "--check" ]; then
  stale=0
  for entry in $LOCKS; do
    file=requirements/${entry%%:*}.txt
    if ! grep -qxF "$MARK $want" "$file" 2>/dev/null; then
      echo "$file was not made from pyproject.toml's current dependencies: run bash scripts/lock.sh" >&2
      stale=1
    fi
  done
  [ $stale = 0 ] && echo "locks match pyproject.toml ($want)"
  exit $stale
fi

UPGRADE=()
case "${1:-}" in
  "") ;;
  --upgrade) UPGRADE=(--upgrade) ;;
  *) echo "usage: bash scripts/lock.sh [--upgrade|--check]" >&2; exit 2 ;;
esac

if [ -x .venv/bin/uv ]; then UV=.venv/bin/uv
elif command -v uv >/dev/null; then UV=uv
else echo "scripts/lock.sh needs uv: pip install uv (it is in the test extra)" >&2; exit 2
fi

mkdir -p requirements
for entry in $LOCKS; do
  name=${entry%%:*} extra=${entry#*:}
  file=requirements/$name.txt
  # uv reads the existing $file as preferences: a re-run keeps every pin that still fits.
  # shellcheck disable=SC2086
  "$UV" pip compile pyproject.toml ${extra:+--extra "$extra"} $OPTIONS "${UPGRADE[@]}" \
    --custom-compile-command "bash scripts/lock.sh" --quiet -o "$file"
  # The fingerprint goes right under uv's two-line header.
  "$PY" - "$file" "$MARK" "$want" <<'EOF'
import sys
path, mark, value = sys.argv[1:]
lines = [x for x in open(path).read().splitlines() if not x.startswith(mark)]
lines.insert(2, f"{mark} {value}")
open(path, "w").write("\n".join(lines) + "\n")
EOF
  echo "$file: $(grep -c '^[a-z0-9]' "$file") pins"
done
