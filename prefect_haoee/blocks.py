"""The ``HaoeeCredentials`` block: the gateway key, stored encrypted by Prefect."""

from __future__ import annotations

from typing import ClassVar

from prefect.blocks.core import Block
from pydantic import Field, HttpUrl, SecretStr

from prefect_haoee.client import AsyncHaoeeClient, HaoeeClient, HaoeeSettings
from prefect_haoee.client.settings import DEFAULT_BASE_URL

LOGO_URL = (
    "https://raw.githubusercontent.com/prefect-haoee/prefect-haoee/main/"
    "prefect_haoee/assets/logo.png"
)


class HaoeeCredentials(Block):
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


def resolve_settings(credentials: HaoeeCredentials | None) -> HaoeeSettings:
    """The block's settings when one is given, else ``HAOEE_*`` environment settings."""
    return credentials.settings() if credentials is not None else HaoeeSettings()
