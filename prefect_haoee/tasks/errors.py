"""Errors of the task layer that guard money: a lock not obtained, a record not readable.

Both are :class:`~prefect_haoee.client.errors.HaoeeError` (not retryable): they stop the
one item they concern with a message saying what to do, and never lead to a paid call.
"""

from __future__ import annotations

from prefect_haoee.client.errors import HaoeeError


class LockNotObtainedError(HaoeeError):
    """Another holder kept a paid step for longer than ``HAOEE_LOCK_WAIT_SECONDS``: the step
    was not run (nothing was paid)."""


class UnreadableStepError(HaoeeError):
    """A committed paid step exists but cannot be read: paying again could pay twice, so
    the item stops. Fix or delete the record named in the message, then rerun."""


class LockConfigurationError(HaoeeError):
    """``HAOEE_LOCK_*`` settings that cannot be used (unknown scheme, a bad number, a
    missing extra)."""


class LockBackendError(HaoeeError):
    """The ledger of paid steps (the bucket, Redis) did not answer: nothing was paid, and
    a task retry may get through."""

    retryable = True
