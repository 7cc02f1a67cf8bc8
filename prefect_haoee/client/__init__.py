"""Typed httpx client for the Haoee gateway: the Volcengine visual family, plus OpenAI-style
images, sora / MiniMax / Kling video and suno music (``prefect_haoee.client.families``).

Imports no Prefect module: usable from any Python program.

Shape (openai-python's: one base client, thin adapters): ``base_client.ClientBase`` holds
every decision (retries, paid sends, polling) as *flows* (``flow.py``) that the blocking
``HaoeeClient`` and the asyncio ``AsyncHaoeeClient`` only run over httpx; ``transport.py``
maps httpx errors once; each gateway family is an adapter (``visual.py``,
``families/<family>.py``) that builds :class:`~.calls.HttpCall` values, reads their answers
(``answers.py`` classifies errors) and declares its models in ``registry.py``. Every
adapter implements one job protocol (``protocol.py``): ``generate(request)``,
``submit_job(request) -> JobHandle`` and ``wait_generation(handle)`` take a request of
any API and answer :class:`GeneratedImages`.
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
from prefect_haoee.client.kinds import MediaKind, ModeChoice, StepNames
from prefect_haoee.client.media import DownloadedMedia, adownload_media, download_media
from prefect_haoee.client.protocol import AnyRequest, resolve_mode
from prefect_haoee.client.requests import AnyVisualRequest, VisualRequest, parse_request
from prefect_haoee.client.responses import GeneratedImages, SubmitResult, TaskResult
from prefect_haoee.client.retry import PollPolicy, RetryPolicy
from prefect_haoee.client.settings import HaoeeSettings
from prefect_haoee.client.sync_client import HaoeeClient

__all__ = [
    "CATALOG",
    "AnyRequest",
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
    "MediaKind",
    "MinimaxVideoRequest",
    "ModeChoice",
    "ModelSpec",
    "PollPolicy",
    "RateLimitedError",
    "RetryPolicy",
    "ServerError",
    "SoraVideoRequest",
    "StepNames",
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
    "resolve_mode",
    "verify_image",
]
