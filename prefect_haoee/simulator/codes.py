"""The simulator's own table of gateway codes (message and HTTP status).

Kept apart from the client's error table on purpose: a mistake there must not be mirrored
here. Sources: volcengine-visual.md §6.
"""

from __future__ import annotations

SUCCESS = 10000

# code -> (HTTP status, message)
CODES: dict[int, tuple[int, str]] = {
    10000: (200, "Success"),
    # business codes
    50411: (400, "Pre Img Risk Not Pass"),
    50511: (400, "Post Img Risk Not Pass"),
    50412: (400, "Text Risk Not Pass"),
    50512: (400, "Post Text Risk Not Pass"),
    50413: (400, "Post Text Risk Not Pass"),
    50518: (400, "Pre Img Risk Not Pass: Copyright"),
    50519: (400, "Post Img Risk Not Pass: Copyright"),
    50520: (400, "Risk Internal Error"),
    50521: (400, "Antidirt Internal Error"),
    50522: (400, "Image Copyright Internal Error"),
    50429: (429, "Request Has Reached API Limit, Please Try Later"),
    50430: (429, "Request Has Reached API Concurrent Limit, Please Try Later"),
    50500: (500, "Internal Error"),
    50501: (500, "Internal RPC Error"),
    # common codes
    50200: (400, "Invalid Argument"),
    50201: (400, "Missing Argument"),
    50204: (400, "Invalid Argument Type"),
    50205: (400, "Image Size Too Large"),
    50206: (400, "No Image Found"),
    50207: (400, "Image Decode Error"),
    50213: (400, "Request Body Too Large"),
    50215: (400, "Input invalid for this service."),
    60102: (400, "No Face Detected"),
    60208: (400, "Input Image Sensitive"),
    50400: (401, "Authentication Failed"),
    50402: (404, "API Not Found"),
}

RATE_LIMIT_CODES = frozenset({50429, 50430})


def http_status(code: int) -> int:
    return CODES.get(code, (400, ""))[0]


def default_message(code: int) -> str:
    return CODES.get(code, (400, "Error"))[1]


class SimError(Exception):
    """A gateway error answer: the handler turns it into the error envelope."""

    def __init__(self, code: int, detail: str = "", *, retry_after: int | None = None) -> None:
        base = default_message(code)
        message = f"{base}: {detail}" if detail else base
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after
        if retry_after is None and code in RATE_LIMIT_CODES:
            self.retry_after = 1

    @property
    def http_status(self) -> int:
        return http_status(self.code)
