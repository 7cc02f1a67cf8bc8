"""What every simulated route reads off a request: the caller's key, base URL and body."""

from __future__ import annotations

import secrets

from starlette.requests import Request

from prefect_haoee.simulator.codes import SimError

_BASE_URLS: dict[tuple[object, ...], str] = {}


def api_key_of(request: Request, keys: tuple[str, ...]) -> str:
    """The caller's key (``Bearer <key>`` or the raw key), else 50400; any key if none set."""
    header = request.headers.get("authorization", "").strip()
    token = header[7:].strip() if header[:7].lower() == "bearer " else header
    if not keys:
        return token or "anonymous"
    if not token:
        raise SimError(50400, "missing Authorization header")
    for key in keys:
        if secrets.compare_digest(token.encode(), key.encode()):
            return key
    raise SimError(50400, "invalid API key")


def base_url_of(request: Request) -> str:
    """The absolute base URL the caller used, ending with ``/`` (links are built from it)."""
    scope = request.scope
    key = (scope.get("scheme"), request.headers.get("host"), scope.get("server"))
    base = _BASE_URLS.get(key)
    if base is None:
        base = str(request.base_url)
        base = base if base.endswith("/") else base + "/"
        if len(_BASE_URLS) < 1024:
            _BASE_URLS[key] = base
    return base


async def read_limited(request: Request, max_bytes: int) -> bytes:
    """The raw body, refused with 50213 past ``max_bytes`` (told or counted)."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > max_bytes:
        raise SimError(50213, f"body larger than {max_bytes} bytes")
    raw = await request.body()
    if len(raw) > max_bytes:
        raise SimError(50213, f"body larger than {max_bytes} bytes")
    return raw
