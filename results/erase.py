"""What an erasure removed, recomputed, rewrote and republished (the id itself never appears)."""

from __future__ import annotations

from dataclasses import dataclass

from results.label import LabelSummary
from warehouse.erase import AffectedExport, Compaction


@dataclass(frozen=True)
class ErasureSummary:
    """One erasure: the audit id, the subject by salted hash, rows deleted per table, and after."""

    erasure_id: str
    subject_kind: str
    subject_hash: str
    deleted_rows: dict[str, int]
    total_deleted: int
    erased_generations: int
    redacted_quarantine_rows: int
    relabel: LabelSummary | None
    compaction: Compaction | None
    snapshot: str
    removed_snapshots: tuple[str, ...]
    affected_exports: tuple[AffectedExport, ...]
    redacted_extra_rows: int = 0
