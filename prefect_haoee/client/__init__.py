"""Typed httpx client for the Haoee gateway's Volcengine visual family.

Imports no Prefect module: usable from any Python program.
"""

from prefect_haoee.client.async_client import AsyncHaoeeClient
from prefect_haoee.client.catalog import CATALOG, ModelSpec, get_spec
from prefect_haoee.client.download import DownloadedImage, verify_image
from prefect_haoee.client.errors import (
    AuthenticationError,
    ContentRejectedError,
    DownloadError,
    HaoeeError,
    InvalidRequestError,
    RateLimitedError,
    ServerError,
    TaskExpiredError,
    TaskNotFoundError,
    TaskTimeoutError,
    TransportError,
)
from prefect_haoee.client.requests import AnyVisualRequest, VisualRequest, parse_request
from prefect_haoee.client.responses import GeneratedImages, SubmitResult, TaskResult
from prefect_haoee.client.retry import PollPolicy, RetryPolicy
from prefect_haoee.client.settings import HaoeeSettings
from prefect_haoee.client.sync_client import HaoeeClient

__all__ = [
    "CATALOG",
    "AnyVisualRequest",
    "AsyncHaoeeClient",
    "AuthenticationError",
    "ContentRejectedError",
    "DownloadError",
    "DownloadedImage",
    "GeneratedImages",
    "HaoeeClient",
    "HaoeeError",
    "HaoeeSettings",
    "InvalidRequestError",
    "ModelSpec",
    "PollPolicy",
    "RateLimitedError",
    "RetryPolicy",
    "ServerError",
    "SubmitResult",
    "TaskExpiredError",
    "TaskNotFoundError",
    "TaskResult",
    "TaskTimeoutError",
    "TransportError",
    "VisualRequest",
    "get_spec",
    "parse_request",
    "verify_image",
]
