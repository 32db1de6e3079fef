"""`reelloop erase --viewer ID | --creator ID [--reason TEXT]`: remove one person from the warehouse.

Under the writer lock: delete the person's rows everywhere in one transaction
(`warehouse.erase.erase_subject`), recompute the labels and pairs their data touched (the label
stage's full rebuild from what remains), rewrite the warehouse file so the deleted rows' bytes are
gone from its freed pages, and republish the snapshot, deleting every older snapshot (they hold
the person). Later ingests drop the person's rows (erased_subjects) and later exports cannot
contain them; export folders already written are not rewritten: the output lists them.

The id is passed to the Prefect flow as a `SecretStr`, so the Prefect API stores it masked, and
it is never logged: logs and the audit table show a salted hash.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from pydantic import SecretStr

from features.label_config import LabelConfig
from flows.label import label_warehouse
from flows.locking import warehouse_at, writer_limit_from_env
from warehouse.erase import (
    CREATOR,
    VIEWER,
    Compaction,
    ErasureResult,
    check_subject,
    compact_database,
    erase_subject,
)
from warehouse.locking import warehouse_writer
from warehouse.snapshot import SnapshotConfig, publish_snapshot
from warehouse.sql_files import sql_text

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EraseConfig:
    """How an erasure finishes: rewrite the warehouse file, and publish a snapshot that keeps no older one.

    `table_copy` builds the snapshot table by table into a new file, so no freed page of the
    warehouse is carried into it.
    """

    compact: bool = True
    snapshot: SnapshotConfig = SnapshotConfig(
        keep_previous=0, retain_seconds=0.0, method="table_copy"
    )
    lock_timeout_seconds: float | None = None


def erase_warehouse(
    db_path: str,
    kind: str,
    subject_id: str,
    *,
    reason: str | None = None,
    label_config: LabelConfig | None = None,
    config: EraseConfig = EraseConfig(),
) -> dict[str, object]:
    """The whole erasure on a warehouse file, without Prefect; returns the summary the CLI prints."""
    check_subject(kind, subject_id)
    if not Path(db_path).is_file():
        raise FileNotFoundError(f"warehouse {db_path} not found")
    with warehouse_writer(
        db_path, timeout_seconds=config.lock_timeout_seconds, outer_lock=writer_limit_from_env()
    ):
        with warehouse_at(db_path).writer(publish=False) as con:
            result = erase_subject(con, kind, subject_id, reason=reason)
            labeled = bool(con.execute(sql_text("erase/labeled")).fetchone()[0])
            relabel = label_warehouse(con, label_config) if labeled else None
        compaction = compact_database(db_path) if config.compact else None
        published = publish_snapshot(db_path, config=config.snapshot)
    return erasure_summary(result, relabel, compaction, published.path, published.removed)


def erasure_summary(
    result: ErasureResult,
    relabel: dict[str, object] | None,
    compaction: Compaction | None,
    snapshot: Path,
    removed_snapshots: tuple[Path, ...],
) -> dict[str, object]:
    """Plain values of what the erasure did (no id: the subject appears by salted hash)."""
    return {
        "erasure_id": result.erasure_id,
        "subject_kind": result.subject_kind,
        "subject_hash": result.subject_hash,
        "deleted_rows": dict(result.deleted_rows),
        "total_deleted": result.total_deleted,
        "erased_generations": result.erased_generations,
        "redacted_quarantine_rows": result.redacted_quarantine_rows,
        "relabel": relabel,
        "compaction": None
        if compaction is None
        else {"bytes_before": compaction.bytes_before, "bytes_after": compaction.bytes_after},
        "snapshot": str(snapshot),
        "removed_snapshots": [str(p) for p in removed_snapshots],
        "affected_exports": [
            {
                "export_id": a.export_id,
                "paths": list(a.paths),
                "rows_with_subject_generations": a.rows_with_subject_generations,
                "rows_with_touched_generations": a.rows_with_touched_generations,
            }
            for a in result.affected_exports
        ],
    }


@task(cache_policy=NO_CACHE)
def erase_and_republish(
    db_path: str, kind: str, subject_id: SecretStr, reason: str | None
) -> dict[str, object]:
    """Delete, relabel, compact and republish under the writer lock (not retried: one audit row per request)."""
    return erase_warehouse(db_path, kind, subject_id.get_secret_value(), reason=reason)


@flow(name="erase")
def erase_flow(
    db_path: str, subject_kind: str, subject_id: SecretStr, reason: str | None = None
) -> dict[str, object]:
    """Erase one viewer or creator; the id travels as a SecretStr so Prefect stores it masked."""
    summary = erase_and_republish(db_path, subject_kind, subject_id, reason)
    get_run_logger().info(
        "erasure %s of %s %s...: %d rows deleted",
        summary["erasure_id"],
        subject_kind,
        str(summary["subject_hash"])[:12],
        summary["total_deleted"],
    )
    return summary


def summary_lines(summary: dict[str, object]) -> list[str]:
    """What `reelloop erase` prints."""
    deleted = {t: n for t, n in summary["deleted_rows"].items() if n}  # type: ignore[union-attr]
    lines = [
        f"erasure {summary['erasure_id']}: {summary['subject_kind']} with hash "
        f"{str(summary['subject_hash'])[:16]}... (salted sha256; the id itself is not stored)",
        f"deleted {summary['total_deleted']} rows"
        + (
            ": " + ", ".join(f"{t} {n}" for t, n in deleted.items())
            if deleted
            else " (no rows held this id)"
        )
        + f"; {summary['redacted_quarantine_rows']} quarantined raw records blanked",
    ]
    relabel = summary["relabel"]
    if relabel is None:
        lines.append(
            "labels: not computed on this warehouse yet (the next `reelloop label` starts clean)"
        )
    else:
        lines.append(
            f"labels recomputed from the remaining events: {relabel['labels_written']} labels written, "
            f"pairs +{relabel['pairs_added']} -{relabel['pairs_removed']}"
        )
    compaction = summary["compaction"]
    if compaction is not None:
        lines.append(
            f"warehouse file rewritten without the deleted rows' pages: "
            f"{compaction['bytes_before']:,} -> {compaction['bytes_after']:,} bytes"
        )
    lines.append(
        f"snapshot republished: {summary['snapshot']}; {len(summary['removed_snapshots'])} older snapshot(s) deleted"
    )
    lines.append(
        "later ingests drop this person's rows, even from re-delivered files; later exports cannot contain them"
    )
    exports = summary["affected_exports"]
    if exports:
        lines.append(
            "export folders already written are NOT rewritten; these exports hold rows this person's data reached:"
        )
        for export in exports:  # type: ignore[union-attr]
            lines.append(
                f"  export {export['export_id']} at {', '.join(export['paths']) or '(path unknown)'}: "
                f"{export['rows_with_subject_generations']} rows on their generations, "
                f"{export['rows_with_touched_generations']} rows on generations they engaged with or made"
            )
    else:
        lines.append("no export written so far holds rows this person's data reached")
    lines.append("model artifacts already trained are not retrained by erasure")
    return lines


def run(args: argparse.Namespace) -> int:
    """Handler of `reelloop erase`."""
    kind, subject_id = (VIEWER, args.viewer) if args.viewer is not None else (CREATOR, args.creator)
    check_subject(kind, subject_id)
    if not Path(args.db).is_file():
        raise FileNotFoundError(f"warehouse {args.db} not found")
    summary = erase_flow(
        db_path=args.db, subject_kind=kind, subject_id=SecretStr(subject_id), reason=args.reason
    )
    print("\n".join(summary_lines(summary)))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `erase` verb."""
    parser = subparsers.add_parser(
        "erase",
        help="erase one viewer's or creator's data from the warehouse (right to erasure)",
        description=(
            "Delete everything the warehouse holds about one person in one transaction: a viewer's "
            "events; a creator's generations, every event on them and their own events as a viewer; "
            "their labels, pairs, scores, export membership and label state. Then recompute labels, "
            "rewrite the warehouse file and republish the snapshot (older snapshots are deleted). "
            "The person is remembered only by salted hash, so re-delivered files never bring them "
            "back. Export folders already written are listed, not rewritten."
        ),
    )
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--viewer", metavar="ID", help="the viewer_id to erase")
    who.add_argument("--creator", metavar="ID", help="the creator_id to erase")
    parser.add_argument(
        "--reason", default=None, help="why (kept in the erasures audit table; put no id in it)"
    )
    parser.set_defaults(handler=run)
