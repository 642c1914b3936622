"""Query explain: the plan summary (indexes used) and, with analyze, execution statistics counted while running.

Shapes follow the v1 ExplainMetrics message and the documented report: `indexes_used` Structs with
`query_scope` and `properties` ("(a ASC, __name__ ASC)"); `debug_stats` with `index_entries_scanned`,
`documents_scanned` (strings) and `billing_details`. Production's figures are estimates that change over
time; here they are the rows this emulator's scan really read.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from .indexes import built_in, needs
from .query import Plan
from .storage import Batch, Record, Storage

ENTITIES_PER_READ = 1000  # index entries billed as one read for keys-only and count queries (documented pricing)


def plan_summary(plan: Plan, out: Any, aggregated: tuple[str, ...] = ()) -> None:
    """Fill a PlanSummary with the index the query uses (a composite one when it needs one)."""
    scope = "Includes Ancestors" if plan.ancestor is not None else "Collection" if plan.kind else "Collection Group"
    composite = needs(plan, aggregated)
    described = [need.recommended().describe() for need in composite] or [built_in(plan)]
    for properties in described:
        out.indexes_used.add().update({"query_scope": scope, "properties": properties})


class CountingReader(Storage):
    """A read-only view of a storage that counts the index entries and entities a query reads."""

    def __init__(self, base: Storage) -> None:
        self.base = base
        self.index_entries = 0
        self.documents = 0

    def get(self, key: bytes) -> Record | None:
        record = self.base.get(key)
        self.documents += record is not None
        return record

    def scan_entities(self, lo: bytes, hi: bytes, reverse: bool = False) -> Iterator[tuple[bytes, Record]]:
        for item in self.base.scan_entities(lo, hi, reverse):
            self.documents += 1
            yield item

    def scan_index(self, lo: bytes, hi: bytes, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        for item in self.base.scan_index(lo, hi, reverse):
            self.index_entries += 1
            yield item

    def has_id(self, key: bytes) -> bool:
        return self.base.has_id(key)

    def apply(self, batch: Batch) -> None:
        raise TypeError("a query reader is read-only")

    def last_version(self) -> int:
        return self.base.last_version()

    def reset(self) -> None:
        raise TypeError("a query reader is read-only")


def execution_stats(out: Any, reader: CountingReader, results: int, started: float, keys_only: bool) -> None:
    """Fill ExecutionStats: results returned, duration, billable reads (at least one) and debug stats."""
    elapsed = time.perf_counter() - started
    out.results_returned = results
    out.execution_duration.seconds = int(elapsed)
    out.execution_duration.nanos = int((elapsed % 1) * 1e9)
    if keys_only:
        billed_docs, billed_entries = 0, -(-reader.index_entries // ENTITIES_PER_READ)
    else:
        billed_docs, billed_entries = results, 0
    out.read_operations = max(1, billed_docs + billed_entries)
    out.debug_stats.update({
        "index_entries_scanned": str(reader.index_entries),
        "documents_scanned": str(reader.documents),
        "billing_details": {
            "documents_billable": str(billed_docs),
            "index_entries_billable": str(billed_entries),
            "small_ops": "0",
            "min_query_cost": "1" if billed_docs + billed_entries == 0 else "0",
        },
    })
