"""What a run keeps of its finished items: counts, capped samples, the manifest spool.

Memory stays flat in campaign size: each item's manifest entry goes to the spool (then
S3), and only counts plus the first ``ROWS_MAX`` table rows and records, ``FAILURES_MAX``
failures and ``GALLERY_MAX`` images are kept for the result and the artifacts.
"""

from __future__ import annotations

from prefect_haoee.campaigns import WorkItem
from prefect_haoee.flows.listeners import notify
from prefect_haoee.flows.manifest import entry_for
from prefect_haoee.flows.manifest_spool import ManifestSpool
from prefect_haoee.flows.observe import GALLERY_MAX
from prefect_haoee.flows.result import Failure, ItemOutcome, ItemSummary
from prefect_haoee.tasks.records import ImageRecord

ROWS_MAX = 1000
"""Rows of the table artifact and records in the result (the manifest has them all)."""
FAILURES_MAX = 200


class Tally:
    """The running totals of one run (or shard); :meth:`add` takes each item's end."""

    def __init__(self) -> None:
        self.spool = ManifestSpool()
        self.done = 0
        self.failed = 0
        self.paid_calls = 0
        self.cost = 0.0
        self.rows: list[ItemSummary] = []
        self._row_hashes: list[str] = []
        self.records: list[ImageRecord] = []
        self.failures: list[Failure] = []
        self.gallery: list[tuple[WorkItem, ImageRecord]] = []

    @property
    def total(self) -> int:
        return self.done + self.failed

    def add(self, outcome: ItemOutcome) -> None:
        item, record = outcome.item, outcome.record
        self.spool.add(entry_for(item, record, outcome.error))
        if len(self.rows) < ROWS_MAX:
            self.rows.append(ItemSummary.of(outcome))
            self._row_hashes.append(item.request_hash)
        if record is not None:
            self.done += 1
            self.paid_calls += record.cost_units
            self.cost += item.cost * record.cost_units
            if len(self.records) < ROWS_MAX:
                self.records.append(record)
            if len(self.gallery) < GALLERY_MAX:
                self.gallery.append((item, record))
        else:
            self.failed += 1
            if len(self.failures) < FAILURES_MAX:
                self.failures.append(Failure.of(outcome))
        notify(item, record, outcome.error)

    def mark_paid_twice(self, twice: dict[str, str]) -> None:
        """Name the other payer (request hash -> run) on the kept rows."""
        for number, request_hash in enumerate(self._row_hashes):
            other = twice.get(request_hash)
            if other and not self.rows[number].paid_twice_with:
                self.rows[number] = self.rows[number].model_copy(update={"paid_twice_with": other})
