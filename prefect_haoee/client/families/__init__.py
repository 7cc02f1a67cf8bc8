"""The gateway's other families: OpenAI-style images, sora / MiniMax / Kling video, suno music.

One module per family holds every shape of that family, each marked confirmed ([T]/[3P])
or GUESS in its docstring, so a correction is a one-file change. The clients run them all
through one family-agnostic API::

    handle = client.submit_job(SoraVideoRequest(prompt="a red kite"))   # paid
    state = client.wait_job(handle)                                      # polls (free)
    with open("kite.mp4", "wb") as f:
        client.download_media(state.file_urls[0], f, "video")            # streamed
"""

from prefect_haoee.client.families.base import (
    FamilyName,
    FamilyRequest,
    JobHandle,
    JobState,
    JobStatus,
    MediaKind,
)
from prefect_haoee.client.families.jobs import (
    MEDIA_OF_KIND,
    ImagesRequest,
    JobRequest,
)
from prefect_haoee.client.families.music_suno import SunoCustomRequest, SunoInspirationRequest
from prefect_haoee.client.families.openai_images import (
    ImageEditRequest,
    ImageGenerationRequest,
    SequentialOptions,
)
from prefect_haoee.client.families.video_kling import (
    KlingImage2VideoRequest,
    KlingText2VideoRequest,
)
from prefect_haoee.client.families.video_minimax import MinimaxVideoRequest
from prefect_haoee.client.families.video_sora import SoraVideoRequest

__all__ = [
    "MEDIA_OF_KIND",
    "FamilyName",
    "FamilyRequest",
    "ImageEditRequest",
    "ImageGenerationRequest",
    "ImagesRequest",
    "JobHandle",
    "JobRequest",
    "JobState",
    "JobStatus",
    "KlingImage2VideoRequest",
    "KlingText2VideoRequest",
    "MediaKind",
    "MinimaxVideoRequest",
    "SequentialOptions",
    "SoraVideoRequest",
    "SunoCustomRequest",
    "SunoInspirationRequest",
]
