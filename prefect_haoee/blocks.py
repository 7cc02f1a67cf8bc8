"""The ``HaoeeCredentials`` block (the gateway key, stored encrypted by Prefect) and the
blocks a worker uses, chosen by name.

A worker's environment names its blocks (``HAOEE_CREDENTIALS_BLOCK``,
``HAOEE_BUCKET_BLOCK``); a campaign file may name its own
(``credentials_block``, ``output.bucket_block``), and ``haoee run``/``haoee deploy`` take
``--credentials-block``/``--bucket-block``. A block named and not found is an error,
never a silent fall-back to other credentials.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar, TypeVar

from prefect.blocks.abstract import CredentialsBlock
from prefect.blocks.core import Block
from prefect_aws.s3 import S3Bucket
from pydantic import Field, HttpUrl, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from prefect_haoee.client import AsyncHaoeeClient, HaoeeClient, HaoeeSettings
from prefect_haoee.client.env_settings import from_environment
from prefect_haoee.client.settings import DEFAULT_BASE_URL

LOGO_URL = (
    "https://raw.githubusercontent.com/prefect-haoee/prefect-haoee/main/"
    "prefect_haoee/assets/logo.png"
)


class HaoeeCredentials(CredentialsBlock):
    """Credentials for the Haoee AI gateway (an API key and where to send it)."""

    _block_type_name: ClassVar[str] = "Haoee Credentials"
    _block_type_slug: ClassVar[str] = "haoee-credentials"
    _logo_url = HttpUrl(LOGO_URL)
    _documentation_url = HttpUrl("https://github.com/prefect-haoee/prefect-haoee#configuration")
    _code_example: ClassVar[str] = """
```python
from prefect_haoee.blocks import HaoeeCredentials

credentials = HaoeeCredentials.load("BLOCK_NAME")
with credentials.get_client() as client:
    ...
```
"""

    api_key: SecretStr = Field(description="The gateway API key.")
    base_url: str = Field(default=DEFAULT_BASE_URL, description="The gateway root URL.")
    auth_scheme: str = Field(
        default="Bearer",
        description="Authorization header prefix; empty sends the raw key.",
    )

    def settings(self) -> HaoeeSettings:
        """Client settings: this block's key and URL over the ``HAOEE_*`` defaults."""
        return HaoeeSettings(
            api_key=self.api_key, base_url=self.base_url, auth_scheme=self.auth_scheme
        )

    def get_client(self) -> HaoeeClient:
        return HaoeeClient(self.settings())

    def get_async_client(self) -> AsyncHaoeeClient:
        return AsyncHaoeeClient(self.settings())


class BlockNames(BaseSettings):
    """Names of the blocks a worker uses, from ``HAOEE_*_BLOCK`` (unset: none)."""

    model_config = SettingsConfigDict(env_prefix="HAOEE_", extra="ignore")

    credentials_block: str | None = Field(
        default=None, description="HaoeeCredentials block with the gateway key"
    )
    bucket_block: str | None = Field(
        default=None, description="S3Bucket block (credentials, endpoint) of the output bucket"
    )


class BlockNotFoundError(ValueError):
    """A block named in settings, a campaign file or an option does not exist."""


B = TypeVar("B", bound=Block)
_LOADED: dict[tuple[str, str], Any] = {}
_LOADED_MUTEX = threading.Lock()


def load_block(block_type: type[Block], name: str, what: str) -> Any:
    """Load a saved block once per process (``name`` or ``type-slug/name``)."""
    name = name.strip()
    with _LOADED_MUTEX:
        cached = _LOADED.get((block_type.__name__, name))
    if cached is not None:
        return cached
    try:
        if "/" in name:
            block: Any = Block.load(name, _sync=True)  # type: ignore[call-arg]
        else:
            block = block_type.load(name, _sync=True)  # type: ignore[call-arg]
    except ValueError as exc:
        raise BlockNotFoundError(f"{what} block {name!r} not found ({exc})") from None
    with _LOADED_MUTEX:
        _LOADED[(block_type.__name__, name)] = block
    return block


def _named(block_type: type[B], name: str | None) -> B | None:
    """The ``block_type`` block ``name`` (None without a name); another type is an error."""
    if not name:
        return None
    kind = block_type.__name__
    block = load_block(block_type, name, kind)
    if not isinstance(block, block_type):
        raise BlockNotFoundError(f"block {name!r} is a {type(block).__name__}, not {kind}")
    return block


def named_credentials(name: str | None = None) -> HaoeeCredentials | None:
    """The ``HaoeeCredentials`` block ``name`` (else ``HAOEE_CREDENTIALS_BLOCK``), or None."""
    return _named(HaoeeCredentials, name or from_environment(BlockNames).credentials_block)


def named_bucket(name: str | None = None) -> S3Bucket | None:
    """The ``S3Bucket`` block ``name`` (else ``HAOEE_BUCKET_BLOCK``), or None."""
    return _named(S3Bucket, name or from_environment(BlockNames).bucket_block)


def resolve_settings(credentials: HaoeeCredentials | None) -> HaoeeSettings:
    """The given block's settings, else the ``HAOEE_CREDENTIALS_BLOCK`` block's, else the
    ``HAOEE_*`` environment settings."""
    block = credentials if credentials is not None else named_credentials()
    return block.settings() if block is not None else HaoeeSettings()
