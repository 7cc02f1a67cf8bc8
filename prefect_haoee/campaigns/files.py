"""Reading files named by a campaign (the campaign file, ``from_csv``, reference images) safely.

A campaign file may come from anyone who can commit to a repository a deployment runs, so
every file it names is untrusted:

- **where**: a relative name resolves against the campaign file's directory; the resolved
  path (symlinks followed) must lie inside one of the allowed roots (the campaign file's
  directory, plus the directories of ``HAOEE_CAMPAIGN_FILE_ROOTS``); pseudo-file systems
  (``/proc``, ``/sys``, ``/dev``) are never read, whatever the roots;
- **what**: only regular files (no device such as ``/dev/zero``, no FIFO, no directory); the
  check is ``fstat`` on the opened descriptor (opened with ``O_NOFOLLOW`` and ``O_NONBLOCK``,
  so a FIFO cannot block the open and a last-moment symlink swap is refused);
- **how much**: the size is checked before reading, and the read stops one byte past the cap
  (a file that grows, or lies about its size, is refused all the same).

Errors are :class:`CampaignFileError` with a message that names the file as the campaign
wrote it and never quotes the file's content; :func:`excerpt` gives the short, sanitized,
secret-free excerpt a caller may show (a CSV header, say). ::

    data = read_campaign_file(
        "refs/face.png", base_dir=campaign_dir, roots=[campaign_dir], max_bytes=5_000_000,
        what="reference image",
    )
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path

PSEUDO_FILE_SYSTEMS: tuple[Path, ...] = (Path("/proc"), Path("/sys"), Path("/dev"))
"""Never read from here, whatever the allowed roots say (``/proc/self/environ`` holds secrets)."""

EXCERPT_CHARS = 40
_SECRET_NAME = re.compile(r"KEY|SECRET|TOKEN|PASSW|CREDENTIAL|AUTH", re.IGNORECASE)
_SECRET_FRAGMENT = 8
"""A run of this many characters of a secret counts as leaking it."""


class CampaignFileError(ValueError):
    """A file named by a campaign cannot be read safely; the message is for the user (it
    names the file as written and never quotes its content)."""


def resolve_campaign_path(
    name: str | Path, *, base_dir: Path, roots: Sequence[Path], what: str = "file"
) -> Path:
    """The real path of ``name`` (relative names are relative to ``base_dir``), which must
    exist and lie inside one of ``roots`` (after following symlinks) and outside
    :data:`PSEUDO_FILE_SYSTEMS`."""
    label = f"{what} {_label(name)}"
    try:
        real = (base_dir / Path(name)).resolve(strict=True)
    except FileNotFoundError:
        raise CampaignFileError(f"{what} not found: {_label(name)}") from None
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
        raise CampaignFileError(f"{label} cannot be resolved ({_reason(exc)})") from None
    if any(real.is_relative_to(fs) for fs in PSEUDO_FILE_SYSTEMS):
        raise CampaignFileError(f"{label} is in {_fs_of(real)}: only regular files are read")
    allowed = [root.resolve() for root in roots]
    if not any(real.is_relative_to(root) for root in allowed):
        where = ", ".join(str(root) for root in allowed) or "(none)"
        raise CampaignFileError(
            f"{label} is outside the allowed directories ({where}); put it next to the "
            "campaign file or allow its directory with HAOEE_CAMPAIGN_FILE_ROOTS"
        )
    return real


def read_regular_file(
    path: Path, *, max_bytes: int, what: str = "file", name: str | Path | None = None
) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``max_bytes`` bytes
    (``name``, default ``path``, is how messages call it).

    The descriptor is opened without following a final symlink and without blocking (a
    FIFO), checked with ``fstat``, and read at most ``max_bytes + 1`` bytes far.
    """
    label = f"{what} {_label(path if name is None else name)}"
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    flags |= getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise CampaignFileError(f"{what} not found: {label[len(what) + 1 :]}") from None
    except OSError as exc:
        raise CampaignFileError(f"{label} cannot be opened ({_reason(exc)})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = file_kind(info.st_mode)
            raise CampaignFileError(f"{label} is {kind}, not a regular file")
        if info.st_size > max_bytes:
            raise CampaignFileError(_too_big(label, max_bytes, info.st_size))
        if hasattr(os, "O_NONBLOCK"):  # POSIX: a regular file, read it normally
            os.set_blocking(fd, True)
        chunks: list[bytes] = []
        size = 0
        while size <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > max_bytes:
            raise CampaignFileError(_too_big(label, max_bytes, None))
        return b"".join(chunks)
    except OSError as exc:
        raise CampaignFileError(f"{label} cannot be read ({_reason(exc)})") from None
    finally:
        os.close(fd)


def read_campaign_file(
    name: str | Path,
    *,
    base_dir: Path,
    roots: Sequence[Path],
    max_bytes: int,
    what: str,
) -> bytes:
    """Resolve ``name`` inside ``roots`` (:func:`resolve_campaign_path`) and read it
    (:func:`read_regular_file`); ``what`` ("CSV file", "reference image") starts messages."""
    real = resolve_campaign_path(name, base_dir=base_dir, roots=roots, what=what)
    return read_regular_file(real, max_bytes=max_bytes, what=what, name=name)


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """At most ``limit`` printable characters of the first line of ``text``, with anything
    that looks like a secret of this process's environment masked (``****``)."""
    line = text.split("\n", 1)[0]
    clean = "".join(ch if ch.isprintable() else "?" for ch in line[: limit + 1])
    if len(clean) > limit:
        clean = clean[: limit - 1] + "…"
    return scrub_secrets(clean)


def scrub_secrets(text: str, secrets: Iterable[str] | None = None) -> str:
    """``text`` with every run of 8+ characters of a secret replaced by ``*``.

    ``secrets`` defaults to :func:`environment_secrets`.
    """
    mask = [False] * len(text)
    for secret in environment_secrets() if secrets is None else secrets:
        for start in range(len(secret) - _SECRET_FRAGMENT + 1):
            window = secret[start : start + _SECRET_FRAGMENT]
            at = text.find(window)
            while at >= 0:
                mask[at : at + _SECRET_FRAGMENT] = [True] * _SECRET_FRAGMENT
                at = text.find(window, at + 1)
    if not any(mask):
        return text
    return "".join("*" if hidden else ch for ch, hidden in zip(text, mask, strict=True))


def environment_secrets() -> list[str]:
    """Values of this process's environment variables whose names say they are secret
    (``*KEY*``, ``*SECRET*``, ``*TOKEN*``, ``*PASSW*``, ``*CREDENTIAL*``, ``*AUTH*``)."""
    return [
        value.strip()
        for name, value in os.environ.items()
        if _SECRET_NAME.search(name) and len(value.strip()) >= _SECRET_FRAGMENT
    ]


def _label(name: str | Path) -> str:
    """The file name as the campaign wrote it, short and printable (quoted)."""
    text = str(name)
    if len(text) > 120:
        text = text[:60] + "…" + text[-59:]
    return repr("".join(ch if ch.isprintable() else "?" for ch in text))


def _reason(exc: BaseException) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__


def _fs_of(path: Path) -> str:
    return next(str(fs) for fs in PSEUDO_FILE_SYSTEMS if path.is_relative_to(fs))


def _too_big(label: str, max_bytes: int, size: int | None) -> str:
    has = f" has {size:,} bytes," if size is not None else " is larger,"
    return f"{label}{has} above the limit of {max_bytes:,} bytes"


def file_kind(mode: int) -> str:
    """What a file of ``st_mode`` ``mode`` is, for a message ("a directory", "a FIFO"...)."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"
