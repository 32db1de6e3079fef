"""`reelloop ingest LANDING_DIR`: load new landing files into events / generations (Prefect flow).

Tasks: discover the new files (I/O, retried) -> load each file in one transaction -> publish the
snapshot -> summary. The loading logic lives in `warehouse.ingest`; this module wires it, logs
progress and prints the accounting.

On a Dask task runner (`reelloop --runner dask`; the flow sees it in its run context, or
`stage_on_workers` forces either way) each file is judged on a worker (`stage_file`, submitted
ahead, in parallel) and staged as day-partitioned Parquet under the staging directory; the flow's
own process, the only writer of the warehouse, loads the staged files in path order, so accounting
and dedup equal a local run's. The staging directory (default `<db stem>.staging` beside the
warehouse) and the landing zone must be on storage every worker and the coordinator reach.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter, deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from logging import Logger, LoggerAdapter
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.artifacts import publish_ingest_artifacts
from flows.locking import warehouse_at
from flows.runner import tasks_run_on_dask, with_runner, worker_address, workers_report_here
from warehouse.ingest import (
    FileAccounting,
    IngestRules,
    LandingFile,
    StagedFile,
    check_landing_dir,
    configure_connection,
    discover_new_files,
    ingest_landing_file,
    load_staged_file,
    remove_staged_file,
    remove_stale_staging,
    stage_landing_file,
    staging_dir_for,
)

DEFAULT_RULES = IngestRules()


@task(retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def discover_files(landing_dir: str, db_path: str, rules: IngestRules) -> list[LandingFile]:
    """Files under the landing zone whose (path, sha256) is not in ingest_files yet."""
    with warehouse_at(db_path).writer(publish=False) as con:
        return discover_new_files(con, landing_dir, rules)


@task(retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def remove_abandoned_staging(staging_dir: str, older_than_hours: float) -> list[str]:
    """Delete what killed runs staged and never loaded (untouched for `older_than_hours`)."""
    removed = remove_stale_staging(
        staging_dir, timedelta(hours=older_than_hours), datetime.now(UTC)
    )
    return [str(path) for path in removed]


@task(cache_policy=NO_CACHE)
def load_file(db_path: str, landing: LandingFile, rules: IngestRules) -> FileAccounting:
    """Validate, dedup, quarantine and load one file in one transaction."""
    with warehouse_at(db_path).writer(publish=False) as con:
        configure_connection(con, rules)
        return ingest_landing_file(con, landing, rules)


@task(retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def stage_file(
    landing: LandingFile, rules: IngestRules, now: datetime, staging_dir: str
) -> StagedFile:
    """On a Dask worker: judge one file's rows and stage them as day-partitioned Parquet."""
    staged = stage_landing_file(landing, rules, now, staging_dir)
    return replace(staged, staged_by=worker_address())


@task(cache_policy=NO_CACHE)
def load_staged(
    db_path: str, landing: LandingFile, staged: StagedFile, now: datetime, rules: IngestRules
) -> FileAccounting:
    """On the coordinator: dedup, quarantine and load one staged file in one transaction."""
    with warehouse_at(db_path).writer(publish=False) as con:
        configure_connection(con, rules)
        return load_staged_file(con, landing, staged, now)


def staged_on_workers(
    files: Sequence[LandingFile],
    db_path: str,
    rules: IngestRules,
    staging_dir: str,
    max_ahead: int,
) -> Iterator[tuple[FileAccounting, str]]:
    """(accounting, worker) per file, in path order: up to `max_ahead` files are being staged on
    the workers while the coordinator loads the earliest staged one."""
    upcoming = iter(files)
    pending: deque[tuple[LandingFile, datetime, Any]] = deque()

    def submit_next() -> None:
        landing = next(upcoming, None)
        if landing is not None:
            now = datetime.now(UTC)  # judged against and recorded as ingested_at
            with workers_report_here():
                future = stage_file.submit(landing, rules, now, staging_dir)
            pending.append((landing, now, future))

    for _ in range(max_ahead):
        submit_next()
    try:
        while pending:
            landing, now, future = pending.popleft()
            staged = future.result()
            submit_next()
            yield load_staged(db_path, landing, staged, now, rules), staged.staged_by
    finally:
        for _, _, future in pending:  # a failed or abandoned run: drop what was staged for it
            with suppress(Exception):
                remove_staged_file(future.result())


def log_progress(
    logger: Logger | LoggerAdapter,
    done: Sequence[FileAccounting],
    total: int,
    started: float,
) -> None:
    """One line per loaded file: its outcome, and the run's rows and rate so far."""
    elapsed = time.perf_counter() - started
    rows = sum(f.rows_read for f in done)
    logger.info(
        "ingest: %d/%d files done (%s: %s, %d rows), %d rows in %.1f s, %.0f rows/s",
        len(done),
        total,
        done[-1].source_file,
        done[-1].status,
        done[-1].rows_read,
        rows,
        elapsed,
        rows / elapsed if elapsed > 0 else 0.0,
    )


@task(retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def publish_warehouse(db_path: str) -> None:
    """Publish the read-only snapshot analysts query, once after all files, if anything committed
    since the last one (also rows a killed run committed but did not publish)."""
    warehouse_at(db_path).publish_if_stale()


def summarize(
    files: Sequence[FileAccounting],
    seconds: float,
    staged_by_worker: Mapping[str, int] | None = None,
) -> dict[str, object]:
    """The run's accounting: totals, per kind, per file status and quarantined rows per reason
    (and, when files were staged on Dask workers, files per worker)."""
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
    staged = (
        {"staged_by_worker": dict(sorted(staged_by_worker.items()))} if staged_by_worker else {}
    )
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
        **staged,
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
    stage_on_workers: bool | None = None,
    staging_dir: str | None = None,
    max_files_staged_ahead: int = 8,
    stale_staging_hours: float = 24.0,
) -> dict[str, object]:
    """Ingest every new file of the landing zone; returns the run's accounting (see `summarize`).

    `stage_on_workers` None: judge files on the Dask workers when the task runner is Dask (see the
    module docstring); `staging_dir` None: `<db stem>.staging` beside the warehouse. Staged
    directories untouched for `stale_staging_hours` (left by a killed run) are removed first.
    """
    logger = get_run_logger()
    check_landing_dir(landing_dir)
    if max_files_staged_ahead < 1:
        raise ValueError(f"max_files_staged_ahead must be >= 1, not {max_files_staged_ahead}")
    if not stale_staging_hours > 0:
        raise ValueError(f"stale_staging_hours must be > 0, not {stale_staging_hours}")
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
    workers: Counter[str] = Counter()
    if tasks_run_on_dask() if stage_on_workers is None else stage_on_workers:
        staging = staging_dir or str(staging_dir_for(db_path))
        logger.info("ingest: staging files on the task runner's workers under %s", staging)
        abandoned = remove_abandoned_staging(staging, stale_staging_hours)
        if abandoned:
            logger.warning(
                "ingest: removed %d staged directories a killed run left (untouched for %g h): %s",
                len(abandoned),
                stale_staging_hours,
                ", ".join(abandoned),
            )
        for accounting, worker in staged_on_workers(
            files, db_path, rules, staging, max_files_staged_ahead
        ):
            done.append(accounting)
            workers[worker] += 1
            log_progress(logger, done, len(files), started)
    else:
        for landing in files:
            done.append(load_file(db_path, landing, rules))
            log_progress(logger, done, len(files), started)
    publish_warehouse(db_path)
    summary = summarize(done, time.perf_counter() - started, workers)
    logger.info("ingest: %s", summary)
    publish_ingest_artifacts(summary)
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
    if summary.get("staged_by_worker"):
        workers = ", ".join(f"{w} {n:,}" for w, n in summary["staged_by_worker"].items())
        lines.append(f"files staged by worker: {workers}")
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
        staging_dir=args.staging_dir,
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
