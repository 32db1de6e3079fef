"""`reelloop erase --viewer ID | --creator ID [--reason TEXT]`: remove one person from the warehouse."""

from __future__ import annotations

import argparse
from pathlib import Path

from cli.flows import run_stage
from cli.output import print_result
from results.erase import ErasureSummary


def summary_lines(summary: ErasureSummary) -> list[str]:
    """What `reelloop erase` prints."""
    deleted = {t: n for t, n in summary.deleted_rows.items() if n}
    lines = [
        f"erasure {summary.erasure_id}: {summary.subject_kind} with hash "
        f"{summary.subject_hash[:16]}... (salted sha256; the id itself is not stored)",
        f"deleted {summary.total_deleted} rows"
        + (
            ": " + ", ".join(f"{t} {n}" for t, n in deleted.items())
            if deleted
            else " (no rows held this id)"
        )
        + f"; {summary.redacted_quarantine_rows} quarantined raw records blanked"
        + f"; {summary.redacted_extra_rows} rows' extra fields naming them dropped",
    ]
    relabel = summary.relabel
    if relabel is None:
        lines.append(
            "labels: not computed on this warehouse yet (the next `reelloop label` starts clean)"
        )
    else:
        lines.append(
            f"labels recomputed from the remaining events: {relabel.labels_written} labels written, "
            f"pairs +{relabel.pairs_added} -{relabel.pairs_removed}"
        )
    compaction = summary.compaction
    if compaction is not None:
        lines.append(
            f"warehouse file rewritten without the deleted rows' pages: "
            f"{compaction.bytes_before:,} -> {compaction.bytes_after:,} bytes"
        )
    lines.append(
        f"snapshot republished: {summary.snapshot}; {len(summary.removed_snapshots)} older snapshot(s) deleted"
    )
    lines.append(
        "later ingests drop this person's rows, even from re-delivered files; later exports cannot contain them"
    )
    exports = summary.affected_exports
    if exports:
        lines.append(
            "export folders already written are NOT rewritten; these exports hold rows this person's data reached:"
        )
        for export in exports:
            lines.append(
                f"  export {export.export_id} at {', '.join(export.paths) or '(path unknown)'}: "
                f"{export.rows_with_subject_generations} rows on their generations, "
                f"{export.rows_with_touched_generations} rows on generations they engaged with or made"
            )
    else:
        lines.append("no export written so far holds rows this person's data reached")
    lines.append("model artifacts already trained are not retrained by erasure")
    return lines


def run(args: argparse.Namespace) -> int:
    """Handler of `reelloop erase`."""
    from pydantic import SecretStr

    from pipelines.erase import erase
    from warehouse.erase import CREATOR, VIEWER, check_subject
    from warehouse.resource import Warehouse

    kind, subject_id = (VIEWER, args.viewer) if args.viewer is not None else (CREATOR, args.creator)
    check_subject(kind, subject_id)
    if not Path(args.db).is_file():
        raise FileNotFoundError(f"warehouse {args.db} not found")
    summary = run_stage(
        args,
        "flows.erase:erase_flow",
        lambda runner: erase(Warehouse.at(args.db), kind, subject_id, reason=args.reason),
        pick_task_runner=False,
        db_path=args.db,
        subject_kind=kind,
        subject_id=SecretStr(subject_id),
        reason=args.reason,
    )
    print_result(args, summary, lambda done: "\n".join(summary_lines(done)))
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
