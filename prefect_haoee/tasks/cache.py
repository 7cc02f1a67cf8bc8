"""Caching that never pays twice: request-hash cache keys, expirations, locks.

Layers (DESIGN.md "Decisions already made"):

* the **request hash** (canonical JSON of the request model) is the identity of a paid call;
* each paid step's outcome is committed to Prefect result storage *on its own* under a key
  derived from that hash (``haoee-submit-<hash>``, ``haoee-generate-<hash>``), so a crash or a
  failed poll later never rolls it back, and a rerun reads it instead of paying;
* those commits run under SERIALIZABLE isolation with a lock manager, so two flow runs
  producing the same request at once pay once: the second waits for the lock, then reads;
* S3 is the final ledger (see ``tasks.storage``): an item whose object exists is skipped.

Expirations stay below the gateway's lifetimes: a task id is pollable for 12 h, a result URL
for 24 h. The stored image in S3 never expires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from prefect.cache_policies import CachePolicy
from prefect.context import TaskRunContext

from prefect_haoee.tasks.locks import LOCK_MANAGER

SUBMIT_EXPIRATION = timedelta(hours=11)
"""Below the 12 h after which the gateway forgets a task id."""
RESULT_URL_EXPIRATION = timedelta(hours=23)
"""Below the 24 h lifetime of a result URL."""


def step_key(step: str, request_hash: str) -> str:
    """The result-storage key of one paid or free step of one request."""
    return f"haoee-{step}-{request_hash}"


class InputsPolicy(CachePolicy):
    """A cache policy whose key is a function of the task's inputs only (no run id)."""

    def compute_key(
        self,
        task_ctx: TaskRunContext,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        return self.key_of(inputs)

    def key_of(self, inputs: dict[str, Any]) -> str | None:
        raise NotImplementedError


def cacheable_hash(value: Any) -> str | None:
    """The request hash of a request (or a submission) that may be cached; None for one
    with a random seed, or for anything without a request hash."""
    request_hash = getattr(value, "request_hash", None)
    if not isinstance(request_hash, str):
        return None
    if getattr(value, "is_deterministic", True) is False:
        return None
    if getattr(value, "deterministic", True) is False:
        return None
    return request_hash


@dataclass
class RequestHashPolicy(InputsPolicy):
    """Cache key = the request hash of the ``request`` argument, prefixed by the step name.

    Inputs-only by construction: run ids, clients and credentials never enter the key. A
    request with ``seed=-1`` (random) gets no key, so it is never cached.
    """

    step: str = "generate"
    argument: str = "request"

    def key_of(self, inputs: dict[str, Any]) -> str | None:
        request_hash = cacheable_hash(inputs.get(self.argument))
        return step_key(self.step, request_hash) if request_hash is not None else None


def serializable_policy(step: str, argument: str = "request") -> RequestHashPolicy:
    return RequestHashPolicy(
        step=step,
        argument=argument,
        isolation_level="SERIALIZABLE",
        lock_manager=LOCK_MANAGER,
    )
