"""Reference images of a campaign (``images:``): where they come from, read once, checked.

An entry is one of:

* a local path, relative to the campaign file's folder and staying inside it;
* ``s3://bucket/key``, an object read with the standard AWS configuration;
* an ``https://`` URL, handed to the gateway as a URL (not fetched here: its identity in
  the request hash is the URL itself). ``http://`` is refused, except for loopback hosts
  when ``HAOEE_REFERENCES_ALLOW_LOOPBACK_HTTP=1`` (for tests against local servers).

Local files and S3 objects are read at most once per :class:`ReferenceReader` (one per
loaded campaign, so one per run), however many prompts and variants use them. Each one's
size is known before it is read (``fstat`` of the opened file, regular files only;
``head_object``'s ``ContentLength`` before the ``get``) and refused from it alone when it
passes the model's per-image limit or, with the references read before, the campaign's
total (``HAOEE_REFERENCES_MAX_TOTAL_BYTES``); the bytes are hashed (sha256) as they are
read (:mod:`.reference_read`), decoded with Pillow (header, pixel limit, ``verify``) and
kept as base64. What one model accepts (format, bytes, pixels) is checked per request by
:func:`~prefect_haoee.campaigns.reference_build.limit_problems`.
"""

from __future__ import annotations

import base64
import io
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from PIL import Image, UnidentifiedImageError

from prefect_haoee.campaigns.reference_read import (
    TooLarge,
    read_file_hashed,
    read_local_file,
    read_object_hashed,
)
from prefect_haoee.campaigns.reference_sources import (
    ReferenceProblem,
    ReferenceSettings,
    ReferenceSource,
    RefKind,
    parse_source,
    shown_source,
)
from prefect_haoee.client.requests.rules import WireImage

__all__ = [
    "READ_CAP_BYTES",
    "RefKind",
    "Reference",
    "ReferenceProblem",
    "ReferenceReader",
    "ReferenceSettings",
    "ReferenceSource",
    "TooLarge",
    "Via",
    "inspect_image",
    "parse_source",
    "read_local_file",
]

Via = Literal["base64", "presigned"]

READ_CAP_BYTES = 16 * 1024 * 1024
"""No reference is read past this, whatever the model (the largest documented input
limit is 15 MB, 即梦4.0); a model's own limit is checked after the read."""
MAX_PIXELS = 4096 * 4096 * 4
"""Pillow refuses to look further into an image above this (decompression bombs)."""

# A stand-in image for S3 objects that ``validate`` does not read (no network): requests
# are still checked (counts, fields); such a plan is never run (see ``deferred``).
_PLACEHOLDER = WireImage(
    base64=(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
    ),
    media_type="image/png",
)


@dataclass(frozen=True)
class Reference:
    """One reference as read: its identity (sha256) and what Pillow found, plus the bytes
    as raw base64 (the form most requests take; kept once, shared by every item)."""

    source: str
    kind: RefKind
    sha256: str | None = None
    bytes: int | None = None
    format: str | None = None
    width: int | None = None
    height: int | None = None
    base64: str | None = field(default=None, repr=False)
    bucket: str | None = None
    key: str | None = None

    @property
    def media_type(self) -> str | None:
        return Image.MIME.get(self.format) if self.format else None

    def row(self, via: str) -> dict[str, Any]:
        """A JSON-ready summary (plan, manifest): never the bytes or a link."""
        return {
            "source": shown_source(self.source),
            "kind": self.kind,
            "via": via,
            "bytes": self.bytes,
            "sha256": self.sha256,
            "format": self.format,
            "width": self.width,
            "height": self.height,
        }


def inspect_image(data: bytes) -> tuple[str, int, int]:
    """``(format, width, height)`` of an image Pillow can decode; ``ReferenceProblem`` else."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt, (width, height) = img.format or "?", img.size
            if width * height > MAX_PIXELS:
                raise ReferenceProblem(f"{width}x{height} pixels is above the decoding limit")
            img.verify()
    except ReferenceProblem:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError):
        raise ReferenceProblem("not an image Pillow can decode") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ReferenceProblem(f"a damaged image ({exc})") from None
    return fmt, width, height


S3ClientFactory = Callable[[], Any]


def default_s3_client() -> Any:
    """A boto3 S3 client from the standard AWS configuration (``AWS_ENDPOINT_URL_S3``...)."""
    import boto3

    return boto3.client("s3")


class ReferenceReader:
    """Reads and checks references, once per source (thread-safe).

    ``read_objects=False`` (``haoee validate`` without ``--check-objects``) never touches
    S3: objects stand in as a placeholder and are listed in :attr:`deferred`; a plan must
    not be made from such a reader.
    """

    def __init__(
        self,
        base_dir: Path,
        *,
        read_objects: bool = True,
        s3_client: S3ClientFactory | None = None,
        settings: ReferenceSettings | None = None,
    ) -> None:
        self.base_dir = base_dir
        self.read_objects = read_objects
        self.settings = settings or ReferenceSettings()
        self._s3_factory = s3_client or default_s3_client
        self._s3: Any = None
        self._cache: dict[str, Reference | ReferenceProblem] = {}
        self._sizes: dict[str, int] = {}
        """Sizes of references refused by a per-image limit before they were read."""
        self.held = 0
        """Bytes of the distinct references read (held as base64 for the run)."""
        self._links: dict[str, str] = {}
        self._lock = threading.Lock()
        self.reads = 0
        """Files and objects actually read (a cache hit is not a read)."""
        self.deferred: set[str] = set()

    def parse(self, text: str) -> ReferenceSource:
        return parse_source(text, self.base_dir, self.settings)

    def load(self, text: str, max_bytes: int | None = None) -> Reference:
        """The reference named ``text`` (read at most once); ``ReferenceProblem`` if unusable.

        ``max_bytes`` (a model's per-image limit) refuses a larger file or object from its
        size alone, before it is read (:class:`TooLarge`); the same reference may still
        serve a model with a higher limit."""
        source = self.parse(text)
        if source.kind == "url":
            return Reference(source=text, kind="url")
        if source.kind == "s3" and not self.read_objects:
            self.deferred.add(text)
            return Reference(source=text, kind="s3", bucket=source.bucket, key=source.key)
        limit = READ_CAP_BYTES if max_bytes is None else min(max_bytes, READ_CAP_BYTES)
        with self._lock:
            cached = self._cache.get(source.cache_key)
            known = self._sizes.get(source.cache_key)
            if cached is None and known is not None and known > limit:
                raise TooLarge(known, limit, "file" if source.kind == "file" else "object")
            if cached is None:
                try:
                    cached = self._read(source, limit)
                except TooLarge as exc:
                    self._sizes[source.cache_key] = exc.size  # not read: no verdict kept
                    raise
                except ReferenceProblem as exc:
                    cached = exc
                self._cache[source.cache_key] = cached
        if isinstance(cached, ReferenceProblem):
            raise cached
        if cached.bytes is not None and cached.bytes > limit:
            raise TooLarge(cached.bytes, limit, "file" if source.kind == "file" else "object")
        # Another spelling of the same file: the same read, named as written here.
        return cached if cached.source == text else replace(cached, source=text)

    def _admit(self, size: int) -> None:
        """Refuse a reference that would take the campaign's total past its cap."""
        cap = self.settings.max_total_bytes
        if self.held + size > cap:
            raise ReferenceProblem(
                f"{size} bytes more would take this campaign's distinct reference images "
                f"past HAOEE_REFERENCES_MAX_TOTAL_BYTES ({cap} bytes; {self.held} read before)"
            )

    def _read(self, source: ReferenceSource, limit: int) -> Reference:
        self.reads += 1
        if source.kind == "file":
            assert source.path is not None
            data, digest = read_file_hashed(source.path, limit, self._admit)
        else:
            data, digest = self._read_object(source, limit)
        self.held += len(data)
        fmt, width, height = inspect_image(data)
        return Reference(
            source=source.text,
            kind=source.kind,
            sha256=digest,
            bytes=len(data),
            format=fmt,
            width=width,
            height=height,
            base64=base64.b64encode(data).decode("ascii"),
            bucket=source.bucket,
            key=source.key,
        )

    def _client(self) -> Any:
        if self._s3 is None:
            self._s3 = self._s3_factory()
        return self._s3

    def _read_object(self, source: ReferenceSource, limit: int) -> tuple[bytes, str]:
        from botocore.exceptions import BotoCoreError, ClientError

        assert source.bucket is not None and source.key is not None
        try:
            return read_object_hashed(self._client(), source.bucket, source.key, limit, self._admit)
        except ClientError as exc:
            raise ReferenceProblem(self._s3_problem(source, exc)) from None
        except BotoCoreError as exc:
            raise ReferenceProblem(f"S3 cannot be reached ({type(exc).__name__})") from None

    def _s3_problem(self, source: ReferenceSource, exc: Any) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchKey", "NoSuchBucket", "NotFound"):
            try:
                self._client().head_bucket(Bucket=source.bucket)
            except ClientError:
                return f"bucket {source.bucket!r} does not exist or cannot be read"
            except BotoCoreError:
                pass
            return f"S3 object {source.key!r} not found in bucket {source.bucket!r}"
        if code in ("403", "AccessDenied"):
            return f"access to s3://{source.bucket}/{source.key} is denied"
        return f"S3 answered {code or 'an error'} for s3://{source.bucket}/{source.key}"

    def wire(self, ref: Reference, via: Via, expires_s: int) -> WireImage:
        """How ``ref`` can travel: base64 (files, objects), a URL (https; a presigned link
        for an object when the campaign opts in), with its digest for the request hash."""
        if ref.kind == "url":
            return WireImage(url=ref.source)
        if ref.base64 is None:  # an object validate did not read
            return _PLACEHOLDER
        url = None
        if ref.kind == "s3" and via == "presigned":
            with self._lock:
                url = self._links.get(ref.source)
                if url is None:
                    url = self._client().generate_presigned_url(
                        "get_object",
                        Params={"Bucket": ref.bucket, "Key": ref.key},
                        ExpiresIn=expires_s,
                    )
                    self._links[ref.source] = url
        return WireImage(
            base64=ref.base64, url=url, sha256=f"sha256:{ref.sha256}", media_type=ref.media_type
        )
