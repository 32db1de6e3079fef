"""`reelloop ingest LANDING_DIR`: load new landing files into events / generations (Prefect flow).

Tasks: discover the new files (I/O, retried) -> load each file in one transaction -> publish the
snapshot -> summary. The loading logic lives in `warehouse.ingest`; this module wires it, logs
progress and prints the accounting.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.resources import Warehouse
from flows.runner import with_runner
from warehouse.ingest import (
    FileAccounting,
    IngestRules,
    LandingFile,
    check_landing_dir,
    configure_connection,
    discover_new_files,
    ingest_landing_file,
)

DEFAULT_RULES = IngestRules()


@task(retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def discover_files(landing_dir: str, db_path: str, rules: IngestRules) -> list[LandingFile]:
    """Files under the landing zone whose (path, sha256) is not in ingest_files yet."""
    with Warehouse.at(db_path).writer(publish=False) as con:
        return discover_new_files(con, landing_dir, rules)


@task(cache_policy=NO_CACHE)
def load_file(db_path: str, landing: LandingFile, rules: IngestRules) -> FileAccounting:
    """Validate, dedup, quarantine and load one file in one transaction."""
    with Warehouse.at(db_path).writer(publish=False) as con:
        configure_connection(con, rules)
        return ingest_landing_file(con, landing, rules)


@task(retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def publish_warehouse(db_path: str) -> None:
    """Publish the read-only snapshot analysts query, once after all files, if anything committed
    since the last one (also rows a killed run committed but did not publish)."""
    Warehouse.at(db_path).publish_if_stale()


def summarize(files: Sequence[FileAccounting], seconds: float) -> dict[str, object]:
    """The run's accounting: totals, per kind, per file status and quarantined rows per reason."""
    by_kind: dict[str, dict[str, int]] = {}
    by_status: dict[str, int] = {}
    by_reason: dict[str, int] = {}
    for f in files:
        kind = by_kind.setdefault(
            f.kind,
            {
                "files": 0,
                "rows_read": 0,
                "rows_loaded": 0,
                "rows_duplicate": 0,
                "rows_quarantined": 0,
            },
        )
        kind["files"] += 1
        kind["rows_read"] += f.rows_read
        kind["rows_loaded"] += f.rows_loaded
        kind["rows_duplicate"] += f.rows_duplicate
        kind["rows_quarantined"] += f.rows_quarantined
        by_status[f.status] = by_status.get(f.status, 0) + 1
        for reason, n in f.quarantined_by_reason.items():
            by_reason[reason] = by_reason.get(reason, 0) + n
    rows_read = sum(f.rows_read for f in files)
    return {
        "files": len(files),
        "rows_read": rows_read,
        "rows_loaded": sum(f.rows_loaded for f in files),
        "rows_duplicate": sum(f.rows_duplicate for f in files),
        "rows_quarantined": sum(f.rows_quarantined for f in files),
        "quarantined_by_reason": dict(sorted(by_reason.items())),
        "files_by_status": dict(sorted(by_status.items())),
        "by_kind": dict(sorted(by_kind.items())),
        "seconds": round(seconds, 3),
        "rows_per_second": round(rows_read / seconds) if seconds > 0 else 0,
    }


@flow(name="ingest")
def ingest_flow(
    landing_dir: str,
    db_path: str = "reelloop.duckdb",
    max_future_skew_hours: float = DEFAULT_RULES.max_future_skew.total_seconds() / 3600,
    min_timestamp: str = DEFAULT_RULES.min_timestamp.isoformat(),
    max_line_bytes: int = DEFAULT_RULES.max_line_bytes,
    memory_limit: str | None = DEFAULT_RULES.memory_limit,
    threads: int | None = DEFAULT_RULES.threads,
) -> dict[str, object]:
    """Ingest every new file of the landing zone; returns the run's accounting (see `summarize`)."""
    logger = get_run_logger()
    check_landing_dir(landing_dir)
    rules = IngestRules(
        max_future_skew=timedelta(hours=max_future_skew_hours),
        min_timestamp=parse_timestamp(min_timestamp),
        max_line_bytes=max_line_bytes,
        memory_limit=memory_limit,
        threads=threads,
    )
    files = discover_files(landing_dir, db_path, rules)
    logger.info("ingest: %d new files under %s", len(files), landing_dir)
    started = time.perf_counter()
    done: list[FileAccounting] = []
    for number, landing in enumerate(files, start=1):
        done.append(load_file(db_path, landing, rules))
        elapsed = time.perf_counter() - started
        rows = sum(f.rows_read for f in done)
        logger.info(
            "ingest: %d/%d files done (%s: %s, %d rows), %d rows in %.1f s, %.0f rows/s",
            number,
            len(files),
            landing.source_file,
            done[-1].status,
            done[-1].rows_read,
            rows,
            elapsed,
            rows / elapsed if elapsed > 0 else 0.0,
        )
    publish_warehouse(db_path)
    summary = summarize(done, time.perf_counter() - started)
    logger.info("ingest: %s", summary)
    return summary


def parse_timestamp(text: str) -> datetime:
    """An ISO 8601 timestamp; one without an offset is taken as UTC."""
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"not an ISO 8601 timestamp: {text!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_accounting(summary: dict) -> str:
    """The accounting of a run as a small text table (per kind, total, reasons, file statuses)."""
    header = (
        f"{'kind':<12}{'files':>7}{'read':>12}{'loaded':>12}{'duplicate':>12}{'quarantined':>13}"
    )
    lines = [header, "-" * len(header)]
    rows = [(kind, counts) for kind, counts in summary["by_kind"].items()]
    rows.append(
        (
            "total",
            {
                "files": summary["files"],
                "rows_read": summary["rows_read"],
                "rows_loaded": summary["rows_loaded"],
                "rows_duplicate": summary["rows_duplicate"],
                "rows_quarantined": summary["rows_quarantined"],
            },
        )
    )
    for kind, c in rows:
        lines.append(
            f"{kind:<12}{c['files']:>7,}{c['rows_read']:>12,}{c['rows_loaded']:>12,}"
            f"{c['rows_duplicate']:>12,}{c['rows_quarantined']:>13,}"
        )
    if summary["quarantined_by_reason"]:
        reasons = ", ".join(
            f"{reason} {n:,}" for reason, n in summary["quarantined_by_reason"].items()
        )
        lines.append(f"quarantined by reason: {reasons}")
    if summary["files_by_status"]:
        statuses = ", ".join(f"{status} {n:,}" for status, n in summary["files_by_status"].items())
        lines.append(f"files by status: {statuses}")
    lines.append(f"{summary['seconds']:.1f} s, {summary['rows_per_second']:,} rows/s")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Handler of `reelloop ingest`: run the flow and print the accounting table."""
    check_landing_dir(args.landing_dir)
    summary = with_runner(ingest_flow, args)(
        landing_dir=str(args.landing_dir),
        db_path=args.db,
        max_future_skew_hours=args.max_future_skew_hours,
        min_timestamp=parse_timestamp(args.min_timestamp).isoformat(),
        max_line_bytes=args.max_line_bytes,
        memory_limit=args.memory_limit,
        threads=args.threads,
    )
    print(format_accounting(summary))
    return 0


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
            "read / loaded / duplicate / quarantined per record kind."
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
    parser.set_defaults(handler=run)
