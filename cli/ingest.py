"""`reelloop ingest LANDING_DIR`: load new landing files, print the accounting."""

from __future__ import annotations

import argparse

from cli.flows import run_stage
from cli.output import print_result
from results.ingest import IngestSummary, RowCounts
from warehouse.ingest.contract import IngestRules

DEFAULT_RULES = IngestRules()
FAILED_FILES_EXIT = 3
"""Exit code of `reelloop ingest` when a whole file could not be loaded as its producer meant (the
rest of the landing zone is loaded; the files are listed, each with a quarantine row 0)."""
FAILED_FILES_SHOWN = 10
COUNT_HEADER = (
    f"{'kind':<12}{'files':>7}{'read':>12}{'loaded':>12}{'duplicate':>12}{'quarantined':>13}"
)


def count_line(kind: str, counts: RowCounts) -> str:
    """One row of the accounting table."""
    return (
        f"{kind:<12}{counts.files:>7,}{counts.rows_read:>12,}{counts.rows_loaded:>12,}"
        f"{counts.rows_duplicate:>12,}{counts.rows_quarantined:>13,}"
    )


def named_counts(title: str, counts: dict[str, int]) -> str:
    """`title: name n, name n` of a count per name."""
    return f"{title}: " + ", ".join(f"{name} {n:,}" for name, n in counts.items())


def format_accounting(summary: IngestSummary) -> str:
    """The accounting of a run as a small text table (per kind, total, reasons, file statuses)."""
    lines = [COUNT_HEADER, "-" * len(COUNT_HEADER)]
    lines += [count_line(kind, counts) for kind, counts in summary.by_kind.items()]
    lines.append(count_line("total", summary.total))
    if summary.quarantined_by_reason:
        lines.append(named_counts("quarantined by reason", summary.quarantined_by_reason))
    if summary.files_quarantined_by_reason:
        lines.append(
            named_counts("whole files quarantined (row 0)", summary.files_quarantined_by_reason)
        )
    if summary.files_by_status:
        lines.append(named_counts("files by status", summary.files_by_status))
    if summary.concurrent_files:
        lines.append(f"files recorded by a concurrent run: {summary.concurrent_files:,}")
    lines += failed_lines(summary.failed_files)
    if summary.staged_by_worker:
        lines.append(named_counts("files staged by worker", summary.staged_by_worker))
    lines.append(f"{summary.seconds:.1f} s, {summary.rows_per_second:,} rows/s")
    return "\n".join(lines)


def failed_lines(failed: dict[str, str]) -> list[str]:
    """The files not loaded as their producer meant, the first few by name."""
    if not failed:
        return []
    shown = [
        f"  {source} ({status})" for source, status in list(failed.items())[:FAILED_FILES_SHOWN]
    ]
    more = len(failed) - len(shown)
    return [f"files not loaded: {len(failed):,}", *shown] + (
        [f"  ... {more:,} more"] if more else []
    )


def run(args: argparse.Namespace) -> int:
    """Handler of `reelloop ingest`: run the flow and print the accounting table."""
    from pipelines.ingest import IngestOptions, ingest, rules_from_parameters
    from warehouse.ingest import check_landing_dir
    from warehouse.resource import Warehouse

    check_landing_dir(args.landing_dir)
    rule_values = {
        "max_future_skew_hours": args.max_future_skew_hours,
        "min_timestamp": args.min_timestamp,
        "max_line_bytes": args.max_line_bytes,
        "memory_limit": args.memory_limit,
        "threads": args.threads,
    }
    rules = rules_from_parameters(**rule_values)  # a bad value is a one-line error here
    rule_values["min_timestamp"] = rules.min_timestamp.isoformat()
    options = IngestOptions(staging_dir=args.staging_dir)
    summary = run_stage(
        args,
        "flows.ingest:ingest_flow",
        lambda runner: ingest(Warehouse.at(args.db), str(args.landing_dir), rules, options, runner),
        landing_dir=str(args.landing_dir),
        db_path=args.db,
        staging_dir=args.staging_dir,
        **rule_values,
    )
    print_result(args, summary, format_accounting)
    return FAILED_FILES_EXIT if summary.failed else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `ingest` verb."""
    parser = subparsers.add_parser(
        "ingest",
        help="validate, dedup and load new landing files into the warehouse",
        description=(
            "Load every new file under LANDING_DIR/events and LANDING_DIR/generations "
            "(.jsonl, .jsonl.gz, .csv, .csv.gz, .parquet) into the events and generations tables. "
            "Rows breaking the event contract go to the quarantine table with a reason code; "
            "repeated event_id / generation_id are dropped as duplicates. A file is loaded once "
            "(by path and sha256) in one transaction; rerunning changes nothing. Prints rows "
            "read / loaded / duplicate / quarantined per record kind. Exits 3 when a whole file "
            "could not be loaded (unreadable, unsupported format, not a regular file, a link out "
            "of the landing root, a CSV without header): the other files are loaded and those "
            "are listed, each with a quarantine row 0."
        ),
    )
    parser.add_argument("landing_dir", metavar="LANDING_DIR", help="landing zone root folder")
    parser.add_argument(
        "--max-future-skew-hours",
        type=float,
        default=DEFAULT_RULES.max_future_skew.total_seconds() / 3600,
        help="timestamps later than ingest time plus this are future_timestamp (default 24)",
    )
    parser.add_argument(
        "--min-timestamp",
        default=DEFAULT_RULES.min_timestamp.isoformat(),
        help="timestamps before this are bad_timestamp (default 2000-01-01T00:00:00+00:00)",
    )
    parser.add_argument(
        "--max-line-bytes",
        type=int,
        default=DEFAULT_RULES.max_line_bytes,
        help=f"longer lines are oversized_field (default {DEFAULT_RULES.max_line_bytes})",
    )
    parser.add_argument(
        "--memory-limit",
        default=DEFAULT_RULES.memory_limit,
        help=f"DuckDB memory_limit while loading (default {DEFAULT_RULES.memory_limit})",
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="DuckDB threads (default: all cores)"
    )
    parser.add_argument(
        "--staging-dir",
        default=None,
        help=(
            "with --runner dask: where workers stage judged rows as Parquet for this process to "
            "load; storage every worker and this machine share (default <db stem>.staging "
            "beside the warehouse)"
        ),
    )
    parser.set_defaults(handler=run)
