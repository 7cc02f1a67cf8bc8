"""What the simulator would have charged: billable generations, calls and duplicates.

A generation is billable when a CVProcess call succeeds or a submit is accepted (an
async task that later fails was still billed, as upstream). Each entry carries the
canonical request hash, computed exactly as the client does for a body made by
``to_body()``: sha256 of the body without ``return_url``, input images by content (the
sha256 of each base64 image's bytes), JSON with sorted keys, compact separators and
``ensure_ascii=False``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

DELIVERY_FIELDS = frozenset({"return_url"})


def base64_identity(value: Any) -> Any:
    """``sha256:<hex>`` of a base64 image's bytes (the client hashes inputs by content)."""
    if not isinstance(value, str):
        return value
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        data = value.encode("utf-8")
    return "sha256:" + hashlib.sha256(data).hexdigest()


def request_hash(body: dict[str, Any], link_digests: Mapping[str, str] | None = None) -> str:
    """The hash the client computes: input images by content (base64 decoded; presigned
    links, whose content ``link_digests`` gives, by that content)."""
    data = {k: v for k, v in body.items() if k not in DELIVERY_FIELDS}
    if isinstance(data.get("binary_data_base64"), list) and data["binary_data_base64"]:
        data["binary_data_base64"] = [base64_identity(v) for v in data["binary_data_base64"]]
    if link_digests and isinstance(data.get("image_urls"), list):
        data["image_urls"] = [link_digests.get(u, u) for u in data["image_urls"]]
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def body_seed(body: dict[str, Any]) -> int | None:
    seed = body.get("seed")
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else None


@dataclass(frozen=True)
class LedgerEntry:
    hash: str
    req_key: str
    action: str
    seed: int | None
    time: float
    """Wall-clock time (simulator clock) of the billing."""
    request_id: str
    task_id: str | None = None


class Ledger:
    def __init__(self) -> None:
        self.entries: list[LedgerEntry] = []
        self._by_hash: Counter[str] = Counter()
        self.duplicates = 0
        self.duplicates_random_seed = 0
        self.calls_by_action: Counter[str] = Counter()
        self.calls_by_code: Counter[str] = Counter()

    def record_call(self, action: str, outcome: int | str) -> None:
        """Count one call and how it ended (a code, or ``drop``)."""
        self.calls_by_action[action] += 1
        self.calls_by_code[str(outcome)] += 1

    def bill(self, entry: LedgerEntry) -> None:
        self.entries.append(entry)
        seen = self._by_hash[entry.hash]
        self._by_hash[entry.hash] = seen + 1
        if seen:
            if entry.seed == -1:
                self.duplicates_random_seed += 1
            else:
                self.duplicates += 1

    @property
    def billable(self) -> int:
        return len(self.entries)

    def billed_count(self, hash_: str) -> int:
        return self._by_hash.get(hash_, 0)

    def to_json(self) -> list[dict[str, Any]]:
        return [asdict(e) for e in self.entries]

    def stats(self) -> dict[str, Any]:
        return {
            "calls_total": sum(self.calls_by_action.values()),
            "calls_by_action": dict(self.calls_by_action),
            "calls_by_code": dict(self.calls_by_code),
            "billable_generations": self.billable,
            "billable_by_req_key": dict(Counter(e.req_key for e in self.entries)),
            "duplicates": self.duplicates,
            "duplicates_random_seed": self.duplicates_random_seed,
        }
