"""Erase: remove one viewer or creator from the warehouse (right to erasure).

Under the writer lock: delete the person's rows everywhere in one transaction
(`warehouse.erase.erase_subject`), recompute the labels and pairs their data touched (the label
stage, a full rebuild from what remains), rewrite the warehouse file so the deleted rows' bytes are
gone from its freed pages, and republish the snapshot, deleting every older snapshot (they hold
the person). An id that held no rows is only recorded: nothing is relabeled or rewritten. Later ingests drop the person's rows (erased_subjects) and later exports cannot
contain them; export folders already written are not rewritten: the summary lists them.
The id is never logged: the audit table and the summary show a salted hash.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from features.label_config import LabelConfig
from pipelines.label import label
from results.erase import ErasureSummary
from warehouse.erase import check_subject, compact_database, erase_subject, was_labeled
from warehouse.resource import Warehouse
from warehouse.snapshot import SnapshotConfig, publish_snapshot


@dataclass(frozen=True)
class EraseConfig:
    """How an erasure finishes: rewrite the warehouse file, and publish a snapshot that keeps no
    older one. `table_copy` builds the snapshot table by table into a new file, so no freed page
    of the warehouse is carried into it."""

    compact: bool = True
    snapshot: SnapshotConfig = field(
        default_factory=lambda: SnapshotConfig(
            keep_previous=0, retain_seconds=0.0, method="table_copy"
        )
    )
    lock_timeout_seconds: float | None = None


def erase(
    warehouse: Warehouse,
    kind: str,
    subject_id: str,
    *,
    reason: str | None = None,
    label_config: LabelConfig | None = None,
    config: EraseConfig | None = None,
) -> ErasureSummary:
    """The whole erasure of one person (`kind` viewer or creator) from the warehouse file."""
    config = config or EraseConfig()
    check_subject(kind, subject_id)
    if not Path(warehouse.path).is_file():
        raise FileNotFoundError(f"warehouse {warehouse.path} not found")
    with warehouse.lock(config.lock_timeout_seconds):
        with warehouse.writer(publish=False) as con:
            result = erase_subject(con, kind, subject_id, reason=reason)
            labeled = was_labeled(con)
        # an id that held no rows is recorded (so it never lands) without rewriting anything
        held_rows = bool(
            result.total_deleted or result.redacted_quarantine_rows or result.redacted_extra_rows
        )
        relabel = label(warehouse, label_config) if labeled and held_rows else None
        compaction = compact_database(warehouse.path) if config.compact and held_rows else None
        snapshot = config.snapshot if held_rows else warehouse.snapshot_config
        published = publish_snapshot(warehouse.path, config=snapshot)
    return ErasureSummary(
        erasure_id=result.erasure_id,
        subject_kind=result.subject_kind,
        subject_hash=result.subject_hash,
        deleted_rows=dict(result.deleted_rows),
        total_deleted=result.total_deleted,
        erased_generations=result.erased_generations,
        redacted_quarantine_rows=result.redacted_quarantine_rows,
        redacted_extra_rows=result.redacted_extra_rows,
        relabel=relabel,
        compaction=compaction,
        snapshot=str(published.path),
        removed_snapshots=tuple(str(p) for p in published.removed),
        affected_exports=result.affected_exports,
    )
