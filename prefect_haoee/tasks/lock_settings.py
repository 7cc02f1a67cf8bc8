"""Where paid-step locks live, read from ``HAOEE_LOCK_*`` (a worker's environment).

``HAOEE_LOCK_URL``:

* unset or ``auto`` (default): a file lock on this machine, then a **claim object in the
  item's output bucket** when the step runs for an item that has one (``produce_image``,
  ``produce_media``, the campaign flow): every machine that writes to the bucket is held
  off, with no service to run. A campaign run claims all its items at once instead, with
  one claim set (``tasks.claim_sets``: a few S3 requests per run, none per image). Steps
  without an output bucket (the fine-grained tasks) get the file lock only.
* ``s3``: as ``auto``, but a paid step without an output bucket is an error.
* ``file`` or ``file:///DIR``: file locks only (one machine; ``DIR`` overrides
  ``HAOEE_LOCK_DIR``, default ``$PREFECT_HOME/haoee-locks``).
* ``redis://[:password@]host:port/db`` or ``rediss://...``: a Redis lock (extra
  ``prefect-haoee[redis]``), faster than S3 claims when a Redis is at hand.

Distributed locks carry a lease of ``HAOEE_LOCK_LEASE_SECONDS`` (default 60 s), renewed
every third of it while the paid call runs, so a holder that dies frees its items within
one lease. ``HAOEE_LOCK_WAIT_SECONDS`` (default 15 min, longer than one paid call with its
retries) bounds how long a step waits for another holder before failing the item.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from prefect.settings import PREFECT_HOME
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from prefect_haoee.client.env_settings import from_environment
from prefect_haoee.tasks.errors import LockConfigurationError

Backend = Literal["auto", "s3", "file", "redis"]


class LockSettings(BaseSettings):
    """``HAOEE_LOCK_URL``, ``HAOEE_LOCK_DIR``, ``HAOEE_LOCK_LEASE_SECONDS``, ...."""

    model_config = SettingsConfigDict(env_prefix="HAOEE_LOCK_", extra="ignore")

    url: SecretStr = Field(
        default=SecretStr("auto"),
        description="auto | s3 | file[:///DIR] | redis://host:port/db (may hold a password)",
    )
    dir: Path | None = Field(default=None, description="Directory of file locks")
    lease_seconds: float = Field(default=60.0, gt=0, le=24 * 3600)
    wait_seconds: float = Field(default=15 * 60.0, ge=0)
    claims_folder: str = Field(
        default=".haoee-claims", description="Folder of claim objects in the output bucket"
    )

    @property
    def backend(self) -> Backend:
        raw = self.url.get_secret_value().strip()
        scheme = urlsplit(raw).scheme.lower() if "://" in raw else raw.lower()
        if scheme in ("", "auto"):
            return "auto"
        if scheme in ("s3", "file"):
            return scheme  # type: ignore[return-value]
        if scheme in ("redis", "rediss", "unix"):
            return "redis"
        raise LockConfigurationError(
            f"HAOEE_LOCK_URL: unknown lock backend {scheme!r} "
            "(use auto, s3, file, file:///DIR or redis://host:port/db)"
        )

    @property
    def redis_url(self) -> str:
        return self.url.get_secret_value().strip()

    @property
    def directory(self) -> Path:
        raw = self.url.get_secret_value().strip()
        if raw.lower().startswith("file://") and urlsplit(raw).path:
            return Path(urlsplit(raw).path)
        return self.dir if self.dir is not None else Path(PREFECT_HOME.value()) / "haoee-locks"

    @property
    def renew_every(self) -> float:
        return self.lease_seconds / 3


def lock_settings() -> LockSettings:
    """As the environment says now (a worker's, or a test's ``monkeypatch``)."""
    return from_environment(LockSettings)
