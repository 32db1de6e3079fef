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
    files_quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    """Whole files quarantined (a quarantine row 0 each, not counted in rows) per reason code."""
    failed_files: dict[str, str] = field(default_factory=dict)
    """source_file -> status of each file that could not be loaded as its producer meant
    (unreadable, unsupported, not a regular file, outside the landing root, CSV without header):
    `reelloop ingest` then exits with FAILED_FILES_EXIT."""
    concurrent_files: int = 0
    """Files another run recorded between this run's discovery and their load (not counted)."""

    @property
    def failed(self) -> bool:
        return bool(self.failed_files)
