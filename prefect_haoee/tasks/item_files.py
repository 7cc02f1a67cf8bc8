"""An answer's files into S3: images downloaded and verified, video and audio streamed.

Every file of one answer is stored at ``{stem}.{ext}``, ``{stem}-1.{ext}`` … (at most as
many as the request asked for: :func:`answer_sources`). Video and
audio pass through a spooled temporary file (in memory up to 8 MB, then on disk) and
are uploaded from it, never held whole in memory. Each stored file says which run an
object already at its key names as payer (``found_payer``): the item reports a double
payment from it.
"""

from __future__ import annotations

import functools
import logging
import tempfile
import time
from typing import Any, BinaryIO, cast

import anyio
from prefect.exceptions import MissingContextError
from prefect.logging import get_run_logger
from prefect_aws.s3 import S3Bucket
from pydantic import BaseModel, ConfigDict

from prefect_haoee.client import AsyncHaoeeClient, GeneratedImages
from prefect_haoee.client.media import MediaType
from prefect_haoee.client.protocol import AnyRequest
from prefect_haoee.tasks.records import META_SHA256
from prefect_haoee.tasks.storage import (
    clean_metadata,
    full_key,
    head_object,
    payer_of,
    put_image,
    s3_client,
)

SPOOL_BYTES = 8 * 1024 * 1024
logger = logging.getLogger("prefect_haoee.tasks")


def _log() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    """The run's logger (the line reaches the flow run's logs), else the module's."""
    try:
        return get_run_logger()
    except MissingContextError:
        return logger


def answer_sources(answer: GeneratedImages, request: AnyRequest) -> list[str]:
    """The files of ``answer`` to store: at most what ``request`` asked for
    (``request.max_outputs``). More is an error of the answer (a gateway that lists 10,000
    URLs must not make one request store 10,000 objects): logged once, the rest ignored."""
    sources = answer.sources()
    cap = request.max_outputs
    if len(sources) <= cap:
        return sources
    _log().error(
        "the gateway answered %d files for request %s (%s), which asks for at most %d: "
        "storing the first %d, ignoring the rest (gateway request id %s)",
        len(sources),
        request.request_hash[:16],
        request.model_id,
        cap,
        cap,
        answer.request_id,
    )
    return sources[:cap]


def default_stem(prefix: str, request_hash: str) -> str:
    """``{prefix}/{request_hash}`` (the object name of an item without a plan's stem)."""
    return f"{prefix.strip('/')}/{request_hash}" if prefix.strip("/") else request_hash


class StoredFile(BaseModel):
    """One file of an answer, in S3 (its bucket key), with what the record tells of it."""

    model_config = ConfigDict(frozen=True)

    key: str
    sha256: str
    format: str
    size: int
    width: int = 0
    height: int = 0
    duration_s: float | None = None
    found_payer: str | None = None
    download_s: float = 0.0
    upload_s: float = 0.0

    def record_fields(self) -> dict[str, Any]:
        """What an item's record says of its first file."""
        fields = self.model_dump(include={"key", "sha256", "format", "width", "height"})
        return {**fields, "bytes": self.size, "duration_s": self.duration_s}


def file_key(stem: str, index: int, extension: str) -> str:
    """The key (relative to the block's folder) of the ``index``-th file of an answer."""
    return f"{stem}{'' if index == 0 else f'-{index}'}.{extension}"


async def store_image(
    client: AsyncHaoeeClient,
    source: str,
    bucket: S3Bucket,
    stem: str,
    index: int,
    metadata: dict[str, Any],
    check_existing: bool,
) -> StoredFile:
    """Download one image (verified), then store it unless the same bytes are there.

    ``check_existing=False``: the caller has just listed S3 (a campaign plan), so the
    upload is a conditional PUT instead of HEAD + PUT (see :func:`put_image`)."""
    started = time.perf_counter()
    image = await client.download(source)
    fetched = time.perf_counter()
    meta = {**metadata, "format": image.format, "width": image.width, "height": image.height}
    key = file_key(stem, index, image.extension)
    upload = functools.partial(put_image, image, bucket, key, meta, check_existing=check_existing)
    stored = await anyio.to_thread.run_sync(upload)
    return StoredFile(
        key=stored.key,
        sha256=image.sha256,
        format=image.format,
        size=image.size,
        width=image.width,
        height=image.height,
        found_payer=stored.found_payer,
        download_s=fetched - started,
        upload_s=time.perf_counter() - fetched,
    )


async def stream_media(
    client: AsyncHaoeeClient,
    source: str,
    kind: MediaType,
    bucket: S3Bucket,
    stem: str,
    index: int,
    metadata: dict[str, Any],
) -> StoredFile:
    """Stream one video or audio file into S3 through a spooled temporary file."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        started = time.perf_counter()
        media = await client.download_media(source, spool, kind)
        fetched = time.perf_counter()
        key = file_key(stem, index, media.extension)
        existing = await anyio.to_thread.run_sync(head_object, bucket, key)
        if existing is None or existing.get("Metadata", {}).get(META_SHA256) != media.sha256:
            meta = {**metadata, META_SHA256: media.sha256, "duration": media.duration_s}
            meta["format"] = media.format
            extra = {"ContentType": media.content_type, "Metadata": clean_metadata(meta)}
            spool.seek(0)
            # boto3's managed upload (multipart for big files), at the key every other
            # read and write uses: not the block's method, which joins its folder its own way.
            await anyio.to_thread.run_sync(
                lambda: s3_client(bucket).upload_fileobj(
                    cast(BinaryIO, spool), bucket.bucket_name, full_key(bucket, key), extra
                )
            )
    return StoredFile(
        key=full_key(bucket, key),
        sha256=media.sha256,
        format=media.format,
        size=media.size,
        duration_s=media.duration_s,
        found_payer=payer_of(existing) if existing is not None else None,
        download_s=fetched - started,
        upload_s=time.perf_counter() - fetched,
    )


async def store_files(
    client: AsyncHaoeeClient,
    sources: list[str],
    media: MediaType | None,
    bucket: S3Bucket,
    stem: str,
    metadata: dict[str, Any],
    check_existing: bool = True,
) -> list[StoredFile]:
    """Every file of one answer, in order: images (``media=None``) or streamed media."""
    out: list[StoredFile] = []
    for index, source in enumerate(sources):
        if media is None:
            out.append(
                await store_image(client, source, bucket, stem, index, metadata, check_existing)
            )
        else:
            out.append(await stream_media(client, source, media, bucket, stem, index, metadata))
    return out
