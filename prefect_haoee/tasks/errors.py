"""Errors of the task layer that guard money: a lock not obtained, a record not readable.

Both are :class:`~prefect_haoee.client.errors.HaoeeError` (not retryable): they stop the
one item they concern with a message saying what to do, and never lead to a paid call.
"""

from __future__ import annotations

from prefect_haoee.client.errors import HaoeeError


class LockNotObtainedError(HaoeeError):
    """Another holder kept the lock of a paid step for longer than the wait allows, or the
    lock backend could not be reached: the step was not run (nothing was paid)."""


class UnreadableStepError(HaoeeError):
    """A committed paid step exists but cannot be read: paying again could pay twice, so
    the item stops. Fix or delete the record named in the message, then rerun."""


class LockConfigurationError(HaoeeError):
    """``HAOEE_LOCK_*`` settings that cannot be used (unknown scheme, missing extra)."""


class LockBackendError(HaoeeError):
    """The lock backend (S3 claims, Redis) could not be reached: nothing was paid, and a
    task retry may get through."""

    retryable = True


class ClaimedBySetError(LockNotObtainedError):
    """A campaign run (on another machine) claimed this request with its claim set
    (:mod:`~prefect_haoee.tasks.claim_sets`): it produces the item, so this step was not
    run and nothing was paid. ``produce_image``/``produce_media`` wait for that run and
    then take its stored file; a flow of one's own may retry later."""

    retryable = True

    def __init__(self, message: str, *, key: str, set_id: str, held: bool) -> None:
        super().__init__(message)
        self.key = key
        self.set_id = set_id
        self.held = held
