"""Ledger entries in Redis (``HAOEE_LOCK_URL=redis://...``, extra ``prefect-haoee[redis]``).

The same protocol as the bucket store, one Lua script per operation so each is atomic:
``haoee:lock:<key>`` holds the holder id with a lease (``PX``), renewed by compare-and-
extend; ``haoee:done:<key>`` holds the done entry, expiring with the answer. A small
wrapper of redis-py rather than prefect-redis's ``RedisLockManager``: that one cannot
renew a lease, and the ledger's lease and answer live together.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from prefect_haoee.tasks.errors import LockConfigurationError
from prefect_haoee.tasks.ledger_entry import Taken, done_body, done_unless_free, read_entry
from prefect_haoee.tasks.per_process import PerProcess

# KEYS: lock, done. ARGV: holder, lease ms, the done value being replaced (or ''),
# our lock domain's holder prefix (or '').
_TAKE = """
local done = redis.call('get', KEYS[2])
if done and done ~= ARGV[3] then return {'done', done} end
if done then redis.call('del', KEYS[2]) end
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {'held', ''} end
local current = redis.call('get', KEYS[1])
if current and ARGV[4] ~= '' and string.sub(current, 1, string.len(ARGV[4])) == ARGV[4] then
  redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return {'held', ''}
end
return {'busy', current or ''}
"""
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
# ARGV: holder, the done entry, its time to live (ms). A lease that ran out with nobody
# taking it over (no lock, no answer) still finishes.
_FINISH = """
local current = redis.call('get', KEYS[1])
if current == ARGV[1] or (not current and not redis.call('get', KEYS[2])) then
  redis.call('set', KEYS[2], ARGV[2], 'PX', ARGV[3])
  redis.call('del', KEYS[1])
  return 1
end
return 0
"""
_ABANDON = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def _new_client(url: str) -> Any:
    try:
        import redis
    except ImportError as exc:  # pragma: no cover - the extra is missing
        raise LockConfigurationError(
            "HAOEE_LOCK_URL names Redis but redis-py is not installed: "
            "pip install 'prefect-haoee[redis]'"
        ) from exc
    return redis.Redis.from_url(
        url, socket_timeout=10, socket_connect_timeout=10, health_check_interval=30
    )


redis_client = PerProcess(_new_client)
"""One thread-safe redis-py client (with its connection pool) per URL and process."""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisStore:
    """The entries of one Redis database."""

    leased = True

    def __init__(
        self, client: Any, where: str, lease_seconds: float, domain: str | None = None
    ) -> None:
        self.client = client
        self.where = where
        self.lease_ms = max(1, int(lease_seconds * 1000))
        self.domain = domain
        self._take = client.register_script(_TAKE)
        self._renew = client.register_script(_RENEW)
        self._finish = client.register_script(_FINISH)
        self._abandon = client.register_script(_ABANDON)

    @staticmethod
    def keys(key: str) -> list[str]:
        return [f"haoee:lock:{key}", f"haoee:done:{key}"]

    def take(self, key: str, holder: str, replace: str | None) -> Taken:
        replaced = ""
        if replace is not None:
            current = self.client.get(self.keys(key)[1])
            entry = read_entry(current)
            found = done_unless_free(entry, datetime.now(timezone.utc), replace)
            if found is not None:
                return found
            replaced = _text(current) if current is not None else ""
        state, value = self._run(key, holder, replaced)
        if state == "done":
            found = done_unless_free(read_entry(value), datetime.now(timezone.utc), None)
            if found is not None:
                return found
            # expired or not ours (planted): replaced like a dead answer
            state, value = self._run(key, holder, value)
        if state == "held":
            return Taken("held")
        return Taken("busy", holder=value if state == "busy" and value else None)

    def _run(self, key: str, holder: str, replaced: str) -> tuple[str, str]:
        prefix = f"{self.domain}/" if self.domain else ""
        state, value = self._take(
            keys=self.keys(key), args=[holder, self.lease_ms, replaced, prefix]
        )
        return _text(state), _text(value)

    def renew(self, key: str, holder: str) -> bool:
        return bool(self._renew(keys=self.keys(key)[:1], args=[holder, self.lease_ms]))

    def finish(
        self, key: str, holder: str, step: dict[str, Any], expires: datetime, paid_by: str
    ) -> bool:
        ttl_ms = max(1, int((expires - datetime.now(timezone.utc)).total_seconds() * 1000))
        body = done_body(key, holder, step, expires, paid_by)
        return bool(self._finish(keys=self.keys(key), args=[holder, body, ttl_ms]))

    def abandon(self, key: str, holder: str) -> None:
        self._abandon(keys=self.keys(key)[:1], args=[holder])
