"""What a run keeps of its finished items: counts, capped samples, the manifest spool.

Memory stays flat in campaign size: each item's manifest entry goes to the spool (then
S3), and only counts plus the first ``ROWS_MAX`` table rows and records, ``FAILURES_MAX``
failures and ``GALLERY_MAX`` images are kept for the result and the artifacts. Items end
in any order (concurrently); the kept rows and images are given back in the order the
campaign lists them (plan index), as the table and gallery show them.
"""

from __future__ import annotations

from prefect_haoee.campaigns import WorkItem
from prefect_haoee.flows.gallery import GALLERY_MAX
from prefect_haoee.flows.listeners import notify
from prefect_haoee.flows.manifest import entry_for
from prefect_haoee.flows.manifest_spool import ManifestSpool
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
        self._rows: list[tuple[int, str, ItemSummary]] = []
        """(plan index, request hash, row) in the order the items ended."""
        self.records: list[ImageRecord] = []
        self.failures: list[Failure] = []
        self._gallery: list[tuple[int, WorkItem, ImageRecord]] = []

    @property
    def total(self) -> int:
        return self.done + self.failed

    @property
    def rows(self) -> list[ItemSummary]:
        """The kept table rows, in the campaign's order (prompts as listed, then variant)."""
        return [row for _, _, row in sorted(self._rows, key=lambda kept: kept[0])]

    @property
    def gallery(self) -> list[tuple[WorkItem, ImageRecord]]:
        """The kept images, in the campaign's order."""
        kept = sorted(self._gallery, key=lambda entry: entry[0])
        return [(item, record) for _, item, record in kept]

    def add(self, outcome: ItemOutcome, index: int | None = None) -> None:
        """Take an item's end; ``index`` is its plan index (default: the order of adding)."""
        item, record = outcome.item, outcome.record
        index = self.total if index is None else index
        self.spool.add(entry_for(item, record, outcome.error))
        if len(self._rows) < ROWS_MAX:
            self._rows.append((index, item.request_hash, ItemSummary.of(outcome)))
        if record is not None:
            self.done += 1
            self.paid_calls += record.cost_units
            self.cost += item.cost * record.cost_units
            if len(self.records) < ROWS_MAX:
                self.records.append(record)
            if len(self._gallery) < GALLERY_MAX:
                self._gallery.append((index, item, record))
        else:
            self.failed += 1
            if len(self.failures) < FAILURES_MAX:
                self.failures.append(Failure.of(outcome))
        notify(item, record, outcome.error)

    def mark_paid_twice(self, twice: dict[str, str]) -> None:
        """Name the other payer (request hash -> run) on the kept rows."""
        for number, (index, request_hash, row) in enumerate(self._rows):
            other = twice.get(request_hash)
            if other and not row.paid_twice_with:
                changed = row.model_copy(update={"paid_twice_with": other})
                self._rows[number] = (index, request_hash, changed)
