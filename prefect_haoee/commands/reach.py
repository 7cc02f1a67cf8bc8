"""Is the gateway there? One free request before a run that will pay for something.

Any HTTP answer at ``HAOEE_BASE_URL`` (even a 404) means it can be reached; a refused
connection, a DNS failure or a timeout ends ``haoee run`` with one line and exit 3 before
the flow starts, instead of every item failing after its retries.
"""

from __future__ import annotations

import httpx

from prefect_haoee.client.redact import redact_url, redact_urls
from prefect_haoee.client.settings import HaoeeSettings


def gateway_problem(settings: HaoeeSettings | None = None) -> str | None:
    """None when the gateway answers HTTP, else a one-line reason (never the key)."""
    settings = settings or HaoeeSettings()
    url = settings.base_url.rstrip("/") + "/"
    timeout = httpx.Timeout(30.0, connect=settings.connect_timeout)
    shown = redact_url(settings.base_url)  # a password in HAOEE_BASE_URL is never printed
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            client.get(url)
    except httpx.TimeoutException:
        return f"cannot reach the gateway at {shown}: no answer in time"
    except httpx.HTTPError as exc:
        text = str(exc) or type(exc).__name__
        if "Connection refused" in text or "Errno 111" in text:
            text = "connection refused"
        first = redact_urls(text.splitlines()[0][:200])
        return f"cannot reach the gateway at {shown}: {first}"
    return None
