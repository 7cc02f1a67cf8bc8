"""Cross-machine paid-step locks in Redis (``HAOEE_LOCK_URL=redis://...``, extra ``redis``).

The same lease protocol as the S3 claims, in a small wrapper of redis-py rather than
prefect-redis's ``RedisLockManager`` (Prefect passes it no hold timeout, and it cannot
renew): ``SET haoee:lock:<key> <holder> NX PX <lease>`` takes the lock with a hold timeout,
a compare-and-extend script renews it every third of the lease while the paid call runs,
a compare-and-delete script releases it, and the committed step document is left at
``haoee:done:<key>`` (expiring with the record) for a machine that waited on the lock.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from prefect_haoee.tasks.claims import Attempt
from prefect_haoee.tasks.errors import LockConfigurationError
from prefect_haoee.tasks.per_process import PerProcess

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  if ARGV[2] ~= '' then redis.call('set', KEYS[2], ARGV[2], 'PX', ARGV[3]) end
  return redis.call('del', KEYS[1])
end
return 0
"""

_TAKE_STALE = """
local current = redis.call('get', KEYS[1])
if current and string.sub(current, 1, string.len(ARGV[1])) == ARGV[1] then
  redis.call('set', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
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


class RedisLocks:
    """Paid-step leases in one Redis database."""

    def __init__(
        self,
        client: Any,
        lease_seconds: float,
        namespace: str = "haoee",
        domain: str | None = None,
    ) -> None:
        self.client = client
        self.domain = domain
        """As ``S3Claims.domain``: a lease of ours seen under our file lock is stale."""
        self.lease_ms = max(1, int(lease_seconds * 1000))
        self.namespace = namespace
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)
        self._take_stale = client.register_script(_TAKE_STALE)

    def _lock(self, key: str) -> str:
        return f"{self.namespace}:lock:{key}"

    def _done(self, key: str) -> str:
        return f"{self.namespace}:done:{key}"

    def try_acquire(self, key: str, holder: str, overwrite: bool) -> Attempt:
        if not overwrite:
            done = self.client.get(self._done(key))
            if done is not None:
                try:
                    step = json.loads(done)
                except ValueError:
                    step = {}
                return Attempt(acquired=False, committed=step if isinstance(step, dict) else {})
        taken = self.client.set(self._lock(key), holder, nx=True, px=self.lease_ms)
        if not taken and self.domain:
            mine = f"{self.domain}/"
            taken = self._take_stale(keys=[self._lock(key)], args=[mine, holder, self.lease_ms])
        return Attempt(acquired=bool(taken))

    def renew(self, key: str, holder: str) -> bool:
        return bool(self._renew(keys=[self._lock(key)], args=[holder, self.lease_ms]))

    def release(
        self, key: str, holder: str, document: dict[str, Any] | None, expires: datetime | None
    ) -> bool:
        payload, ttl_ms = "", 0
        if document is not None and expires is not None:
            ttl_ms = int((expires - datetime.now(timezone.utc)).total_seconds() * 1000)
            if ttl_ms > 0:
                payload = json.dumps(document, sort_keys=True)
        released = self._release(
            keys=[self._lock(key), self._done(key)], args=[holder, payload, max(ttl_ms, 1)]
        )
        return bool(released)
