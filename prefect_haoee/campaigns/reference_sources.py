"""Where a reference image comes from: an ``images:`` entry parsed and checked (no I/O).

A local path must be relative to the campaign file's folder and stay inside it; an
``s3://bucket/key`` names an object; a URL must be ``https://`` without credentials
(``http://`` only for loopback hosts with ``HAOEE_REFERENCES_ALLOW_LOOPBACK_HTTP=1``, for
tests against local servers).
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import ip_address
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from prefect_haoee.campaigns.checks import MAX_SOURCE_CHARS, check_bucket
from prefect_haoee.client.redact import redact_url

RefKind = Literal["file", "s3", "url"]
LOOPBACK_NAMES = frozenset({"localhost"})


DEFAULT_MAX_TOTAL_BYTES = 256 * 1024 * 1024


class ReferenceSettings(BaseSettings):
    """Environment switches of the reference reader (``HAOEE_REFERENCES_*``)."""

    model_config = SettingsConfigDict(env_prefix="HAOEE_REFERENCES_", extra="ignore")

    allow_loopback_http: bool = False
    """Accept ``http://127.0.0.1/...`` references (tests only; never a public host)."""
    max_total_bytes: int = Field(default=DEFAULT_MAX_TOTAL_BYTES, ge=1)
    """All distinct files and objects one campaign references, together (they are held
    in memory, as base64, for the run): a reference past it is refused before it is read."""


def shown_source(text: str) -> str:
    """A reference as a message may show it: a URL without its credentials (userinfo,
    signature and token query values masked) and no control character left raw (an ESC
    in a file name must not reach the terminal as an escape sequence)."""
    if "://" in text:
        text = redact_url(text)
    return "".join(ch if ch.isprintable() else _escaped(ch) for ch in text)


def _escaped(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


class ReferenceProblem(ValueError):
    """A reference that cannot be used: the message is the broken rule."""


@dataclass(frozen=True)
class ReferenceSource:
    """A parsed ``images:`` entry."""

    text: str
    kind: RefKind
    path: Path | None = None
    bucket: str | None = None
    key: str | None = None

    @property
    def cache_key(self) -> str:
        if self.kind == "file":
            return f"file:{self.path}"
        return self.text


def parse_source(text: str, base_dir: Path, settings: ReferenceSettings) -> ReferenceSource:
    """Parse one entry; ``ReferenceProblem`` names the rule it breaks."""
    if not text.strip():
        raise ReferenceProblem("empty reference")
    if len(text) > MAX_SOURCE_CHARS:
        raise ReferenceProblem(f"a reference is at most {MAX_SOURCE_CHARS} characters")
    if text.startswith("s3://"):
        bucket, _, key = text[5:].partition("/")
        if not bucket or not key:
            raise ReferenceProblem("an S3 reference is s3://bucket/key")
        try:
            check_bucket(bucket)
        except ValueError as exc:
            raise ReferenceProblem(str(exc)) from None
        return ReferenceSource(text, "s3", bucket=bucket, key=key)
    if "://" in text:
        _check_url(text, settings)
        return ReferenceSource(text, "url")
    if "\0" in text:
        raise ReferenceProblem("not a regular file: a file name cannot hold a NUL byte")
    relative = Path(text)
    if relative.is_absolute():
        raise ReferenceProblem("a local reference is a path relative to the campaign file")
    root = base_dir.resolve()
    try:
        resolved = (root / relative).resolve()
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop (Python 3.11, 3.12)
        raise ReferenceProblem("not a regular file: a symlink loop") from None
    if not resolved.is_relative_to(root):
        raise ReferenceProblem(f"{shown_source(text)!r} leads outside the campaign file's folder")
    return ReferenceSource(text, "file", path=resolved)


def _check_url(text: str, settings: ReferenceSettings) -> None:
    try:
        parts = urlsplit(text)
        hostname = parts.hostname
        has_userinfo = parts.username is not None or parts.password is not None
    except ValueError:  # a bad port or bracket
        raise ReferenceProblem("not a URL that can be read") from None
    if parts.scheme not in ("https", "http"):
        raise ReferenceProblem(
            f"{parts.scheme or 'this'}:// is not a reference source: only https:// URLs, "
            "s3://bucket/key objects and local paths (relative to the campaign file) are allowed"
        )
    if has_userinfo:
        raise ReferenceProblem("a URL reference must not carry credentials")
    if not hostname:
        raise ReferenceProblem("a URL reference needs a host")
    if parts.scheme == "https":
        return
    if settings.allow_loopback_http and _is_loopback(hostname):
        return
    raise ReferenceProblem(
        "a URL reference must be https:// (or use a local path or s3://bucket/key)"
    )


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False
