#!/usr/bin/env bash
# Services of tests/distributed (marker `distributed`): Debian's PostgreSQL 15 and Redis,
# installed when missing (root on Debian, as on CI). The suite starts and stops its own
# instances on free ports in temporary directories; nothing is left running.
set -euo pipefail
need=()
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql-15)
command -v redis-server >/dev/null || need+=(redis-server)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"
fi
echo "postgresql: $(/usr/lib/postgresql/15/bin/initdb --version); redis: $(redis-server --version | cut -d' ' -f3)"
