"""Client settings, read from ``HAOEE_*`` environment variables."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from prefect_haoee.client.pace import Pace

DEFAULT_BASE_URL = "https://maas.haoee.com"


class HaoeeSettings(BaseSettings):
    """How to reach the gateway. The key is a ``SecretStr``: it never shows in a repr."""

    # hide_input_in_errors: a ValidationError never repeats a value (the key among them).
    model_config = SettingsConfigDict(
        env_prefix="HAOEE_", extra="ignore", hide_input_in_errors=True
    )

    api_key: SecretStr = Field(default=SecretStr(""), description="Gateway API key")
    base_url: str = Field(default=DEFAULT_BASE_URL, description="Gateway root URL")
    auth_scheme: str = Field(
        default="Bearer",
        description="Authorization prefix; empty sends the raw key (the Haoee page shows both)",
    )
    connect_timeout: float = Field(default=10.0, gt=0)
    read_timeout: float = Field(default=180.0, gt=0, description="Sync generation takes seconds")
    write_timeout: float = Field(default=60.0, gt=0)
    pool_timeout: float = Field(default=60.0, gt=0)
    max_connections: int = Field(default=20, ge=1)
    max_keepalive_connections: int = Field(default=10, ge=0)
    max_attempts: int = Field(default=4, ge=1, le=10, description="Per call, first try included")
    backoff_base: float = Field(default=0.5, ge=0)
    backoff_max: float = Field(default=20.0, ge=0)
    resend_unanswered_paid_calls: bool = Field(
        default=True,
        description=(
            "Resend a paid call whose request was sent but got no answer (read timeout, "
            "dropped connection). The gateway has no idempotency key, so such a resend may pay "
            "twice; False fails the call instead (connect errors are always resent)."
        ),
    )
    retry_after_max: float = Field(default=60.0, ge=0, description="Cap on a honoured Retry-After")
    max_answer_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1024,
        description=(
            "Cap on a gateway answer body (bytes, after decompression), read as a stream: "
            "a bigger answer is an error, never held whole"
        ),
    )
    download_deadline: float = Field(
        default=600.0,
        gt=0,
        description="Seconds one result file's whole download may take (image, video, audio)",
    )
    download_min_rate: float = Field(
        default=16_384.0,
        ge=0,
        description=(
            "Bytes per second a result file's download must average once it has run 10 s: "
            "a host that trickles is an error, not a held item (0: no minimum)"
        ),
    )
    retry_after_limit: float = Field(
        default=300.0,
        ge=0,
        description=(
            "A Retry-After longer than this (seconds) fails the call at once instead of "
            "waiting (a Retry-After between retry_after_max and this waits retry_after_max)"
        ),
    )

    @field_validator("api_key", mode="after")
    @classmethod
    def _clean_key(cls, value: SecretStr) -> SecretStr:
        """Spaces and line ends around the key (a file read with its newline) are dropped;
        whitespace or control characters inside it are an error that does not show it."""
        key = value.get_secret_value()
        stripped = key.strip()
        if any(ch.isspace() or not ch.isprintable() for ch in stripped):
            raise ValueError(
                "the API key holds whitespace or control characters (key not shown); "
                "check HAOEE_API_KEY"
            )
        return value if stripped == key else SecretStr(stripped)

    def download_pace(self, what: str = "image") -> Pace:
        """A new clock for one file download (deadline and minimum rate)."""
        return Pace(self.download_deadline, self.download_min_rate, what)

    def authorization_header(self) -> str:
        key = self.api_key.get_secret_value()
        scheme = self.auth_scheme.strip()
        return f"{scheme} {key}" if scheme else key
