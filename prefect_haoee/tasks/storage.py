"""Download and S3 tasks. S3 is the final ledger: an object named by the request hash,
carrying its sha256 in metadata, means the image is stored and never paid for again.

S3 access goes through prefect-aws's ``S3Bucket`` (uploads) and the boto3 client its
credentials block builds (HEAD/LIST, which the block does not wrap). ``AwsCredentials``
honours the standard ``AWS_*`` variables, ``AWS_ENDPOINT_URL``/``AWS_ENDPOINT_URL_S3``
included, and ``AwsClientParameters(endpoint_url=...)`` for S3-compatible servers.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from prefect.cache_policies import NO_CACHE
from prefect_aws.s3 import S3Bucket

from prefect_haoee.client.download import DEFAULT_MAX_BYTES, DownloadedImage
from prefect_haoee.client.download import download_image as fetch_image
from prefect_haoee.tasks.records import META_PAID_BY, META_REQUEST_HASH, META_SHA256, StoredObject
from prefect_haoee.tasks.retry_rules import haoee_task

__all__ = ["META_PAID_BY", "META_REQUEST_HASH", "META_SHA256"]


def full_key(bucket: S3Bucket, key: str) -> str:
    """The object's key in the bucket: the block's ``bucket_folder``, then ``key``.

    The one key function of every write, read and record (images, video, audio, HEAD,
    LIST, manifests). ``key`` is always relative to the folder, as the block's own methods
    take it: a key that happens to start with the folder's name gets the folder in front
    all the same (no guessing, so a prefix ``campaigns/...`` in a folder ``campaigns`` is
    ``campaigns/campaigns/...`` for every caller). Slashes at either end are dropped: S3
    keys never start with ``/`` here.
    """
    folder = bucket.bucket_folder.strip("/")
    key = key.lstrip("/")
    return f"{folder}/{key}" if folder else key


def relative_key(bucket: S3Bucket, stored: str) -> str:
    """The inverse of :func:`full_key` for a key S3 listed (inside the block's folder)."""
    folder = bucket.bucket_folder.strip("/")
    if folder and stored.startswith(folder + "/"):
        return stored[len(folder) + 1 :]
    return stored


def s3_client(bucket: S3Bucket) -> Any:
    return bucket.credentials.get_s3_client()


def head_object(bucket: S3Bucket, key: str) -> dict[str, Any] | None:
    """HEAD an object: its metadata, or None when it does not exist."""
    try:
        answer: dict[str, Any] = s3_client(bucket).head_object(
            Bucket=bucket.bucket_name, Key=full_key(bucket, key)
        )
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound") or (
            status == 404
        ):
            return None
        raise
    return answer


def find_stored(bucket: S3Bucket, stem: str) -> str | None:
    """The key (relative to the folder, as ``stem``) of the object named ``stem`` plus an
    extension, if one is stored."""
    answer = s3_client(bucket).list_objects_v2(
        Bucket=bucket.bucket_name, Prefix=full_key(bucket, stem) + ".", MaxKeys=10
    )
    keys = sorted(item["Key"] for item in answer.get("Contents", []))
    return relative_key(bucket, keys[0]) if keys else None


def list_stems(bucket: S3Bucket, prefix: str) -> set[str]:
    """Every stored key under ``prefix`` without its extension, relative to the block's
    folder as plan stems are (one LIST per 1000 keys)."""
    paginator = s3_client(bucket).get_paginator("list_objects_v2")
    stems: set[str] = set()
    for page in paginator.paginate(Bucket=bucket.bucket_name, Prefix=full_key(bucket, prefix)):
        for item in page.get("Contents", []):
            stems.add(relative_key(bucket, item["Key"]).rsplit(".", 1)[0])
    return stems


def clean_metadata(metadata: dict[str, Any] | None) -> dict[str, str]:
    """S3 user metadata: ASCII strings only (non-ASCII values are percent-encoded)."""
    from urllib.parse import quote

    out: dict[str, str] = {}
    for name, value in (metadata or {}).items():
        if value is None:
            continue
        text = str(value)
        out[str(name).lower()] = text if text.isascii() else quote(text, safe="")
    return out


def payer_of(head: dict[str, Any]) -> str:
    """The run an existing object's metadata names as its payer (``unknown`` if none)."""
    return str(head.get("Metadata", {}).get(META_PAID_BY) or "unknown")


def _stored(
    image: DownloadedImage, bucket: S3Bucket, key: str, uploaded: bool, payer: str | None
) -> StoredObject:
    return StoredObject(
        bucket=bucket.bucket_name,
        key=full_key(bucket, key),
        sha256=image.sha256,
        size=image.size,
        content_type=image.content_type,
        uploaded=uploaded,
        found_payer=payer,
    )


def put_image(
    image: DownloadedImage,
    bucket: S3Bucket,
    key: str,
    metadata: dict[str, Any] | None = None,
    *,
    check_existing: bool = True,
) -> StoredObject:
    """Upload unless an object with the same sha256 is already at ``key``.

    ``check_existing=False`` skips that HEAD (one S3 request less) for a caller that has
    just found nothing there: the PUT is then conditional (``If-None-Match: *``), so an
    object another run stored meanwhile is found, not silently overwritten unseen; its
    payer is returned in ``found_payer`` (the caller reports a double payment). A server
    that does not support conditional writes gets a plain PUT.
    """
    existing = head_object(bucket, key) if check_existing else None
    if existing is not None and existing.get("Metadata", {}).get(META_SHA256) == image.sha256:
        return _stored(image, bucket, key, False, payer_of(existing))
    meta = clean_metadata(metadata)
    meta[META_SHA256] = image.sha256
    # One PUT: ``S3Bucket.upload_from_file_object`` goes through boto3's transfer manager
    # (a thread pool per call, for an image of a few hundred KB) and logs every upload.
    put: dict[str, Any] = {
        "Bucket": bucket.bucket_name,
        "Key": full_key(bucket, key),
        "Body": image.data,
        "ContentType": image.content_type,
        "Metadata": meta,
    }
    if existing is None and not check_existing:
        try:
            s3_client(bucket).put_object(**put, IfNoneMatch="*")
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _NOT_SUPPORTED:
                s3_client(bucket).put_object(**put)
                return _stored(image, bucket, key, True, None)
            if code not in _ALREADY_THERE:
                raise
            there = head_object(bucket, key)
            if there is None:  # deleted in between: the key is free again
                s3_client(bucket).put_object(**put)
                return _stored(image, bucket, key, True, None)
            if there.get("Metadata", {}).get(META_SHA256) == image.sha256:
                return _stored(image, bucket, key, False, payer_of(there))
            existing = there
        else:
            return _stored(image, bucket, key, True, None)
    s3_client(bucket).put_object(**put)
    return _stored(image, bucket, key, True, payer_of(existing) if existing else None)


_ALREADY_THERE = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}
_NOT_SUPPORTED = {"NotImplemented", "501"}


@haoee_task(
    "haoee-download", "download-image", paid=False, cache_policy=NO_CACHE, persist_result=False
)
def download_image(source: str, max_bytes: int = DEFAULT_MAX_BYTES) -> DownloadedImage:
    """Fetch a result URL (or decode inline base64) and verify it is an image (free)."""
    return fetch_image(source, max_bytes=max_bytes)


@haoee_task(
    "haoee-upload-s3", "upload-{key}", paid=False, cache_policy=NO_CACHE, persist_result=True
)
def upload_image_to_s3(
    image: DownloadedImage,
    bucket: S3Bucket,
    key: str,
    metadata: dict[str, Any] | None = None,
) -> StoredObject:
    """Store an image with content type and sha256 metadata; skip if already stored."""
    return put_image(image, bucket, key, metadata)
