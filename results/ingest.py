"""What an ingest run did: rows read / loaded / duplicate / quarantined, per kind, status, reason."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RowCounts:
    """Files and rows of one record kind (or of the whole run)."""

    files: int = 0
    rows_read: int = 0
    rows_loaded: int = 0
    rows_duplicate: int = 0
    rows_quarantined: int = 0


@dataclass(frozen=True)
class IngestSummary:
    """The run's accounting: rows_read = rows_loaded + rows_duplicate + rows_quarantined."""

    total: RowCounts
    by_kind: dict[str, RowCounts]
    quarantined_by_reason: dict[str, int]
    files_by_status: dict[str, int]
    seconds: float
    rows_per_second: int
    staged_by_worker: dict[str, int] = field(default_factory=dict)
    """Files judged per Dask worker (empty when the files were judged in this process)."""
