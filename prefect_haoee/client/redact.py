"""Keeping the API key out of every text that comes from outside.

A gateway may echo what it was sent: the ``Authorization`` header whole, cut after a few
characters, or the key inside another message. So the client scrubs each text it takes
from an answer (error messages, body excerpts, request ids) and each transport error's
text before it reaches an exception, a log line or a record:

* every run of 8 or more characters that also occurs in the key (a prefix, a fragment or
  the whole key; a key shorter than 8 characters is replaced where it occurs whole);
* ``Authorization: <anything>`` and ``Bearer <token>``, whatever the token is.

Messages (an error's text, never a committed answer, whose file URLs must keep their
signatures to be downloaded again) also lose every URL's userinfo password and
secret-looking query values (``X-Amz-Signature``, ``X-Amz-Credential``, ``token``,
``sig``...): :func:`redact_urls`.

:func:`make_scrubber` keeps the key inside a closure: an object holding the scrubber
shows a function in its ``vars()``, never the key.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

FRAGMENT = 8
"""The shortest run of the key's characters that is scrubbed."""
MASK = "***"

_AUTHORIZATION = re.compile(
    r"""(?i)(authorization["']?\s*[:=]\s*["']?)(?:bearer\s+|basic\s+)?[^\s"',;}\]]*"""
)
_HEADER_WORDS = re.compile(r"(?i)authorization|bearer")
_BEARER = re.compile(r"(?i)\b(bearer)(\s+)[^\s\"',;}\]]+")

Scrubber = Callable[[str], str]


_SECRET_PARAMS = re.compile(r"(?i)(signature|token|sig|secret|password|credential|key)")


def redact_url(url: str) -> str:
    """``url`` without its userinfo's password and with secret-looking query values
    (``X-Amz-Signature``, ``token``, ``sig``...) masked: a URL fit for a message."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    netloc = parts.netloc
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.split(':', 1)[0]}:{MASK}@{host}" if ":" in user else f"{MASK}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, MASK if _SECRET_PARAMS.search(k) else v) for k, v in pairs], safe="*"
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


_URL = re.compile(r"(?i)\b[a-z][a-z0-9+.-]{1,15}://[^\s'\"<>`]+")


def redact_urls(text: str) -> str:
    """Every URL in ``text`` through :func:`redact_url` (a gateway message or an httpx
    error may quote a presigned link or a URL with a password)."""
    if "://" not in text:
        return text
    return _URL.sub(_redact_match, text)


def _redact_match(match: re.Match[str]) -> str:
    url = match.group(0)
    core = url.rstrip(".,;:!?)]}")  # the sentence's punctuation, not the URL's
    return redact_url(core) + url[len(core) :]


def map_strings(value: Any, change: Callable[[str], str], longest: int | None = None) -> Any:
    """``value`` (JSON: dicts, lists, scalars) with ``change`` applied to every string of
    at most ``longest`` characters (longer ones kept as they are: inline file data)."""
    if isinstance(value, str):
        return change(value) if longest is None or len(value) <= longest else value
    if isinstance(value, list):
        return [map_strings(v, change, longest) for v in value]
    if isinstance(value, dict):
        return {k: map_strings(v, change, longest) for k, v in value.items()}
    return value


def scrub_patterns(text: str) -> str:
    """``Authorization: …`` and ``Bearer …`` masked, whatever key they carry."""
    if not _HEADER_WORDS.search(text):  # one pass for the usual text that has neither
        return text
    text = _AUTHORIZATION.sub(lambda m: m.group(1) + MASK, text)
    return _BEARER.sub(lambda m: m.group(1) + m.group(2) + MASK, text)


def make_scrubber(secret: str) -> Scrubber:
    """A function that masks ``secret`` (and any 8+ character run of it) in a text."""
    secret = secret.strip()
    size = min(FRAGMENT, len(secret))
    grams = (
        sorted({secret[i : i + size] for i in range(len(secret) - size + 1)}) if size >= 4 else []
    )
    # Every start of a fragment, overlapping ones too (a lookahead matches empty): the
    # scan runs in the regex engine, and a text with no fragment costs one pass.
    starts = re.compile("(?=(?:" + "|".join(map(re.escape, grams)) + "))") if grams else None

    def scrub(text: str) -> str:
        text = scrub_patterns(text)
        if starts is None or len(text) < size:
            return text
        found = [match.start() for match in starts.finditer(text)]
        if not found:
            return text
        hidden = bytearray(len(text))
        for start in found:
            hidden[start : start + size] = b"\x01" * size
        out: list[str] = []
        masking = False
        for char, flag in zip(text, hidden, strict=True):
            if flag:
                if not masking:
                    out.append(MASK)
                masking = True
            else:
                out.append(char)
                masking = False
        return "".join(out)

    return scrub
