"""Reference images of a campaign (``images:``): where they come from, read once, checked.

An entry is one of:

* a local path, relative to the campaign file's folder and staying inside it;
* ``s3://bucket/key``, an object read with the standard AWS configuration;
* an ``https://`` URL, handed to the gateway as a URL (not fetched here: its identity in
  the request hash is the URL itself). ``http://`` is refused, except for loopback hosts
  when ``HAOEE_REFERENCES_ALLOW_LOOPBACK_HTTP=1`` (for tests against local servers).

Local files and S3 objects are read at most once per :class:`ReferenceReader` (one per
loaded campaign, so one per run), however many prompts and variants use them; each is
capped in bytes before it is read whole (``fstat`` of the opened file, regular files only;
``head_object``'s ``ContentLength`` before the ``get``), decoded with Pillow (header, pixel
limit, ``verify``) and identified by the sha256 of its bytes. What one model accepts
(format, bytes, pixels) is checked per request by :func:`limit_problems`.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from PIL import Image, UnidentifiedImageError

from prefect_haoee.campaigns.reference_sources import (
    ReferenceProblem,
    ReferenceSettings,
    ReferenceSource,
    RefKind,
    parse_source,
)
from prefect_haoee.client.requests.rules import InputLimits, WireImage

__all__ = [
    "READ_CAP_BYTES",
    "RefKind",
    "Reference",
    "ReferenceProblem",
    "ReferenceReader",
    "ReferenceSettings",
    "ReferenceSource",
    "Via",
    "inspect_image",
    "limit_problems",
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
            "source": self.source,
            "kind": self.kind,
            "via": via,
            "bytes": self.bytes,
            "sha256": self.sha256,
            "format": self.format,
            "width": self.width,
            "height": self.height,
        }


def read_local_file(path: Path, max_bytes: int) -> bytes:
    """A regular file's bytes, refused before it is read if larger than ``max_bytes``.

    The one place that reads campaign-referenced files (a generic safe reader may take
    its place). ``ReferenceProblem`` for a missing, special or too large file.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise ReferenceProblem("file not found") from None
    except OSError as exc:
        raise ReferenceProblem(f"cannot open the file ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ReferenceProblem("not a regular file")
        if info.st_size > max_bytes:
            raise ReferenceProblem(f"file is {info.st_size} bytes, above the {max_bytes} cap")
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ReferenceProblem(f"file grew above the {max_bytes} bytes cap while read")
    return data


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


def limit_problems(refs: list[Reference], limits: InputLimits, model: str) -> list[list[str]]:
    """Per reference, the limits of ``model`` it breaks (format, bytes, pixels)."""
    out: list[list[str]] = []
    for ref in refs:
        found: list[str] = []
        if ref.kind != "url" and ref.sha256 is not None:
            if ref.format not in limits.formats:
                allowed = "/".join(sorted(limits.formats))
                found.append(f"{ref.format} image; {model} takes {allowed}")
            if ref.bytes is not None and ref.bytes > limits.max_bytes:
                found.append(f"{ref.bytes} bytes; {model} takes at most {limits.max_bytes}")
            for side in (ref.width, ref.height):
                if side is not None and not limits.min_side <= side <= limits.max_side:
                    found.append(
                        f"{ref.width}x{ref.height} pixels; {model} takes sides of "
                        f"{limits.min_side} to {limits.max_side}"
                    )
                    break
        out.append(found)
    total = sum(ref.bytes or 0 for ref in refs if ref.kind != "url")
    if limits.max_total_bytes is not None and total > limits.max_total_bytes and out:
        out[-1].append(f"the images total {total} bytes; {model} takes {limits.max_total_bytes}")
    return out


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
        self._links: dict[str, str] = {}
        self._lock = threading.Lock()
        self.reads = 0
        """Files and objects actually read (a cache hit is not a read)."""
        self.deferred: set[str] = set()

    def parse(self, text: str) -> ReferenceSource:
        return parse_source(text, self.base_dir, self.settings)

    def load(self, text: str) -> Reference:
        """The reference named ``text`` (read at most once); ``ReferenceProblem`` if unusable."""
        source = self.parse(text)
        if source.kind == "url":
            return Reference(source=text, kind="url")
        if source.kind == "s3" and not self.read_objects:
            self.deferred.add(text)
            return Reference(source=text, kind="s3", bucket=source.bucket, key=source.key)
        with self._lock:
            cached = self._cache.get(source.cache_key)
            if cached is None:
                try:
                    cached = self._read(source)
                except ReferenceProblem as exc:
                    cached = exc
                self._cache[source.cache_key] = cached
        if isinstance(cached, ReferenceProblem):
            raise cached
        # Another spelling of the same file: the same read, named as written here.
        return cached if cached.source == text else replace(cached, source=text)

    def _read(self, source: ReferenceSource) -> Reference:
        self.reads += 1
        if source.kind == "file":
            assert source.path is not None
            data = read_local_file(source.path, READ_CAP_BYTES)
        else:
            data = self._read_object(source)
        fmt, width, height = inspect_image(data)
        return Reference(
            source=source.text,
            kind=source.kind,
            sha256=hashlib.sha256(data).hexdigest(),
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

    def _read_object(self, source: ReferenceSource) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        s3 = self._client()
        try:
            head = s3.head_object(Bucket=source.bucket, Key=source.key)
            size = int(head.get("ContentLength", 0))
            if size > READ_CAP_BYTES:
                raise ReferenceProblem(f"object is {size} bytes, above the {READ_CAP_BYTES} cap")
            answer = s3.get_object(Bucket=source.bucket, Key=source.key)
            body = answer["Body"]
            try:
                data: bytes = body.read(READ_CAP_BYTES + 1)
            finally:
                body.close()
        except ClientError as exc:
            raise ReferenceProblem(self._s3_problem(source, exc)) from None
        except BotoCoreError as exc:
            raise ReferenceProblem(f"S3 cannot be reached ({type(exc).__name__})") from None
        if len(data) > READ_CAP_BYTES:
            raise ReferenceProblem(f"object grew above the {READ_CAP_BYTES} bytes cap")
        return data

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
