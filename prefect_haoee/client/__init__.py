"""Typed httpx client for the Haoee gateway: the Volcengine visual family, plus OpenAI-style
images, sora / MiniMax / Kling video and suno music (``prefect_haoee.client.families``).

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
    TaskFailedError,
    TaskNotFoundError,
    TaskTimeoutError,
    TransportError,
    UnusableAnswerError,
)
from prefect_haoee.client.families import (
    ImageEditRequest,
    ImageGenerationRequest,
    JobHandle,
    JobRequest,
    JobState,
    JobStatus,
    KlingImage2VideoRequest,
    KlingText2VideoRequest,
    MinimaxVideoRequest,
    SoraVideoRequest,
    SunoCustomRequest,
    SunoInspirationRequest,
)
from prefect_haoee.client.media import DownloadedMedia, adownload_media, download_media
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
    "DownloadedMedia",
    "GeneratedImages",
    "HaoeeClient",
    "HaoeeError",
    "HaoeeSettings",
    "ImageEditRequest",
    "ImageGenerationRequest",
    "InvalidRequestError",
    "JobHandle",
    "JobRequest",
    "JobState",
    "JobStatus",
    "KlingImage2VideoRequest",
    "KlingText2VideoRequest",
    "MinimaxVideoRequest",
    "ModelSpec",
    "PollPolicy",
    "RateLimitedError",
    "RetryPolicy",
    "ServerError",
    "SoraVideoRequest",
    "SubmitResult",
    "SunoCustomRequest",
    "SunoInspirationRequest",
    "TaskExpiredError",
    "TaskFailedError",
    "TaskNotFoundError",
    "TaskResult",
    "TaskTimeoutError",
    "TransportError",
    "UnusableAnswerError",
    "VisualRequest",
    "adownload_media",
    "download_media",
    "get_spec",
    "parse_request",
    "verify_image",
]
