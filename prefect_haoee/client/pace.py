"""A file download's pace: a whole-transfer deadline and a minimum rate.

httpx's read timeout bounds the wait for *one* chunk, so a host that sends a byte every
few seconds never trips it and holds an item for hours. :class:`Pace` is checked at each
chunk: the transfer fails once it has run past ``deadline`` seconds, or once, after
:data:`RATE_GRACE_S`, it has averaged under ``min_rate`` bytes per second. The async
download also runs under the deadline as a whole (a host that sends nothing at all is
the read timeout's). Both are :class:`~prefect_haoee.client.errors.DownloadError`: not
retried, the item fails with the message, and its paid answer stays committed, so a rerun
downloads again without paying.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from prefect_haoee.client.errors import DownloadError

RATE_GRACE_S = 10.0
"""The minimum rate is not judged before this many seconds of a transfer (slow starts)."""


@dataclass
class Pace:
    """The clock of one transfer (``deadline`` s in all, ``min_rate`` bytes/s on average)."""

    deadline: float
    min_rate: float
    what: str = "image"
    started: float = field(default_factory=time.monotonic)
    received: int = 0

    def add(self, size: int) -> None:
        """Count ``size`` more bytes; raise when the transfer is too slow or too long."""
        self.received += size
        self.check()

    def check(self) -> None:
        spent = time.monotonic() - self.started
        if spent > self.deadline:
            raise self.too_long()
        if spent > RATE_GRACE_S and self.received < self.min_rate * spent:
            rate = self.received / spent
            raise DownloadError(
                f"{self.what} download too slow: {self.received} bytes in {spent:.0f} s "
                f"({rate:.0f} bytes/s), under the minimum of {self.min_rate:.0f} bytes/s "
                "(HAOEE_DOWNLOAD_MIN_RATE)"
            )

    def too_long(self) -> DownloadError:
        return DownloadError(
            f"{self.what} download did not finish within {self.deadline:.0f} s "
            f"({self.received} bytes received; HAOEE_DOWNLOAD_DEADLINE)"
        )
