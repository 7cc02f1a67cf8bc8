"""Reading one reference image's bytes: size known before the read, hashed as it streams.

A local file is opened without following a last symlink and without blocking (a FIFO),
checked with ``fstat`` (regular files only) and its size given to ``admit`` *before* a
byte is read; an S3 object's ``ContentLength`` (``head_object``) is given to ``admit``
before the ``get``. ``admit`` raises :class:`ReferenceProblem` to refuse it (over the
model's per-image limit, over the campaign's total), so a refused file costs no memory.
The read then stops one byte past the cap (a file that grows or lies about its size is
refused all the same), and the sha256 is computed chunk by chunk as the bytes arrive.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prefect_haoee.campaigns.files import file_kind
from prefect_haoee.campaigns.reference_sources import ReferenceProblem

CHUNK = 1024 * 1024

Admit = Callable[[int], None]
"""Called with a reference's size before it is read; raises to refuse it."""


class TooLarge(ReferenceProblem):
    """A reference over a size limit, refused before it was read (``size`` known)."""

    def __init__(self, size: int, limit: int, what: str = "file") -> None:
        super().__init__(f"{what} is {size} bytes, above the {limit} cap")
        self.size = size
        self.limit = limit


def _admit_nothing(size: int) -> None:
    return None


def read_chunks(read: Callable[[int], bytes], max_bytes: int, what: str) -> tuple[bytes, str]:
    """Everything ``read`` gives, at most ``max_bytes`` (one more is a problem), and the
    sha256 of it, hashed chunk by chunk."""
    digest = hashlib.sha256()
    buf = bytearray()
    while len(buf) <= max_bytes:
        chunk = read(min(CHUNK, max_bytes + 1 - len(buf)))
        if not chunk:
            break
        digest.update(chunk)
        buf += chunk
    if len(buf) > max_bytes:
        raise ReferenceProblem(f"{what} grew above the {max_bytes} bytes cap while read")
    return bytes(buf), digest.hexdigest()


def read_file_hashed(
    path: Path, max_bytes: int, admit: Admit = _admit_nothing
) -> tuple[bytes, str]:
    """A regular file's bytes and sha256; refused before the read when it is no regular
    file, larger than ``max_bytes`` (:class:`TooLarge`) or not admitted."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    flags |= getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise ReferenceProblem("file not found") from None
    except ValueError:  # a NUL byte in the name
        raise ReferenceProblem("not a regular file: a file name cannot hold a NUL byte") from None
    except OSError as exc:
        raise ReferenceProblem(f"cannot open the file ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ReferenceProblem(f"not a regular file ({file_kind(info.st_mode)})")
        if info.st_size > max_bytes:
            raise TooLarge(info.st_size, max_bytes)
        admit(info.st_size)
        if hasattr(os, "O_NONBLOCK"):  # a regular file: read it normally
            os.set_blocking(fd, True)
        return read_chunks(lambda size: os.read(fd, size), max_bytes, "file")
    except OSError as exc:
        raise ReferenceProblem(f"cannot read the file ({exc.strerror})") from None
    finally:
        os.close(fd)


def read_local_file(path: Path, max_bytes: int) -> bytes:
    """A regular file's bytes, refused before it is read if larger than ``max_bytes``."""
    return read_file_hashed(path, max_bytes)[0]


def read_object_hashed(
    s3: Any, bucket: str, key: str, max_bytes: int, admit: Admit = _admit_nothing
) -> tuple[bytes, str]:
    """An S3 object's bytes and sha256: its ``ContentLength`` is checked (and admitted)
    before the ``get``, and the body is read in chunks up to one byte past the cap."""
    head = s3.head_object(Bucket=bucket, Key=key)
    size = int(head.get("ContentLength", 0))
    if size > max_bytes:
        raise TooLarge(size, max_bytes, "object")
    admit(size)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    try:
        return read_chunks(body.read, max_bytes, "object")
    finally:
        body.close()
