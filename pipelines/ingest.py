"""Ingest: load the new files of a landing zone into events / generations, one transaction each.

discover the new files -> load each file (validate, dedup, quarantine, load) -> publish the
snapshot -> the run's accounting. On a distributed runner (Dask workers) each file is judged on a
worker (`stage_file`, submitted ahead, in parallel) and staged as day-partitioned Parquet under
the staging directory; this process, the only writer of the warehouse, loads the staged files in
path order, so accounting and dedup equal a local run's. The staging directory (default
`<db stem>.staging` beside the warehouse) and the landing zone must be on storage every worker
and this process reach.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from pipelines.publish import publish_if_stale
from pipelines.steps import DIRECT, IO_RETRY, StepRunner, step, worker_address
from results.ingest import IngestSummary, RowCounts
from warehouse.ingest import (
    ALREADY_INGESTED,
    FAILED_STATUSES,
    FILE_PROBLEMS,
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
from warehouse.resource import Warehouse


@dataclass(frozen=True)
class IngestOptions:
    """Where and how files are judged: on the runner's workers or here, and the staging bounds."""

    stage_on_workers: bool | None = None
    """None: on the workers when the runner is distributed (Dask)."""
    staging_dir: str | None = None
    """Default `<db stem>.staging` beside the warehouse."""
    max_files_staged_ahead: int = 8
    stale_staging_hours: float = 24.0
    """Staged directories untouched this long were left by a killed run and are removed."""

    def __post_init__(self) -> None:
        if self.max_files_staged_ahead < 1:
            raise ValueError(
                f"max_files_staged_ahead must be >= 1, not {self.max_files_staged_ahead}"
            )
        if not self.stale_staging_hours > 0:
            raise ValueError(f"stale_staging_hours must be > 0, not {self.stale_staging_hours}")


def parse_timestamp(text: str) -> datetime:
    """An ISO 8601 timestamp; one without an offset is taken as UTC."""
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"not an ISO 8601 timestamp: {text!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def rules_from_parameters(
    max_future_skew_hours: float,
    min_timestamp: str,
    max_line_bytes: int,
    memory_limit: str | None,
    threads: int | None,
) -> IngestRules:
    """The contract rules from the plain values a flow or the command line passes."""
    return IngestRules(
        max_future_skew=timedelta(hours=max_future_skew_hours),
        min_timestamp=parse_timestamp(min_timestamp),
        max_line_bytes=max_line_bytes,
        memory_limit=memory_limit,
        threads=threads,
    )


@step(IO_RETRY)
def discover_files(warehouse: Warehouse, landing_dir: str, rules: IngestRules) -> list[LandingFile]:
    """Files under the landing zone whose (path, sha256) is not in ingest_files yet."""
    with warehouse.writer(publish=False) as con:
        return discover_new_files(con, landing_dir, rules)


@step(IO_RETRY)
def remove_abandoned_staging(staging_dir: str, older_than_hours: float) -> list[str]:
    """Delete what killed runs staged and never loaded (untouched for `older_than_hours`)."""
    removed = remove_stale_staging(
        staging_dir, timedelta(hours=older_than_hours), datetime.now(UTC)
    )
    return [str(path) for path in removed]


@step()
def load_file(warehouse: Warehouse, landing: LandingFile, rules: IngestRules) -> FileAccounting:
    """Validate, dedup, quarantine and load one file in one transaction."""
    with warehouse.writer(publish=False) as con:
        configure_connection(con, rules)
        return ingest_landing_file(con, landing, rules)


@step(IO_RETRY)
def stage_file(
    landing: LandingFile, rules: IngestRules, now: datetime, staging_dir: str
) -> StagedFile:
    """On a worker: judge one file's rows and stage them as day-partitioned Parquet."""
    staged = stage_landing_file(landing, rules, now, staging_dir)
    return replace(staged, staged_by=worker_address())


@step()
def load_staged(
    warehouse: Warehouse,
    landing: LandingFile,
    staged: StagedFile,
    now: datetime,
    rules: IngestRules,
) -> FileAccounting:
    """Here: dedup, quarantine and load one staged file in one transaction."""
    with warehouse.writer(publish=False) as con:
        configure_connection(con, rules)
        return load_staged_file(con, landing, staged, now)


def staged_on_workers(
    files: Sequence[LandingFile],
    warehouse: Warehouse,
    rules: IngestRules,
    staging_dir: str,
    max_ahead: int,
    runner: StepRunner,
) -> Iterator[tuple[FileAccounting, str]]:
    """(accounting, worker) per file, in path order: up to `max_ahead` files are being staged on
    the workers while this process loads the earliest staged one."""
    upcoming = iter(files)
    pending: deque[tuple[LandingFile, datetime, Any]] = deque()

    def submit_next() -> None:
        landing = next(upcoming, None)
        if landing is not None:
            now = datetime.now(UTC)  # judged against and recorded as ingested_at
            pending.append(
                (landing, now, runner.submit(stage_file, landing, rules, now, staging_dir))
            )

    for _ in range(max_ahead):
        submit_next()
    try:
        while pending:
            landing, now, future = pending.popleft()
            staged = future.result()
            submit_next()
            yield runner.run(load_staged, warehouse, landing, staged, now, rules), staged.staged_by
    finally:
        for _, _, future in pending:  # a failed or abandoned run: drop what was staged for it
            with suppress(Exception):
                remove_staged_file(future.result())


def log_progress(
    runner: StepRunner, done: Sequence[FileAccounting], total: int, started: float
) -> None:
    """One line per loaded file: its outcome, and the run's rows and rate so far."""
    elapsed = time.perf_counter() - started
    rows = sum(f.rows_read for f in done)
    runner.log.info(
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


def row_counts(files: Sequence[FileAccounting]) -> RowCounts:
    """Files and rows of `files`, summed."""
    return RowCounts(
        files=len(files),
        rows_read=sum(f.rows_read for f in files),
        rows_loaded=sum(f.rows_loaded for f in files),
        rows_duplicate=sum(f.rows_duplicate for f in files),
        rows_quarantined=sum(f.rows_quarantined for f in files),
    )


def summarize(
    recorded: Sequence[FileAccounting],
    seconds: float,
    staged_by_worker: Counter[str] | None = None,
) -> IngestSummary:
    """The run's accounting: totals, per kind, per file status and quarantined rows per reason
    (and, when files were staged on Dask workers, files per worker); whole files quarantined and
    the files that failed are listed apart; files a concurrent run recorded are not counted."""
    files = [f for f in recorded if f.status != ALREADY_INGESTED]
    by_reason: Counter[str] = Counter()
    for f in files:
        by_reason.update(f.quarantined_by_reason)
    whole_files = Counter(FILE_PROBLEMS[f.status] for f in files if f.status in FILE_PROBLEMS)
    total = row_counts(files)
    kinds = sorted({f.kind for f in files})
    return IngestSummary(
        total=total,
        by_kind={kind: row_counts([f for f in files if f.kind == kind]) for kind in kinds},
        quarantined_by_reason=dict(sorted(by_reason.items())),
        files_by_status=dict(sorted(Counter(f.status for f in files).items())),
        seconds=round(seconds, 3),
        rows_per_second=round(total.rows_read / seconds) if seconds > 0 else 0,
        staged_by_worker=dict(sorted((staged_by_worker or Counter()).items())),
        files_quarantined_by_reason=dict(sorted(whole_files.items())),
        failed_files={f.source_file: f.status for f in files if f.status in FAILED_STATUSES},
        concurrent_files=len(recorded) - len(files),
    )


def ingest(
    warehouse: Warehouse,
    landing_dir: str,
    rules: IngestRules | None = None,
    options: IngestOptions | None = None,
    runner: StepRunner = DIRECT,
) -> IngestSummary:
    """Ingest every new file of the landing zone; returns the run's accounting."""
    rules, options = rules or IngestRules(), options or IngestOptions()
    check_landing_dir(landing_dir)
    files = runner.run(discover_files, warehouse, landing_dir, rules)
    runner.log.info("ingest: %d new files under %s", len(files), landing_dir)
    started = time.perf_counter()
    done: list[FileAccounting] = []
    workers: Counter[str] = Counter()
    on_workers = (
        runner.distributed if options.stage_on_workers is None else options.stage_on_workers
    )
    if on_workers:
        staging = options.staging_dir or str(staging_dir_for(warehouse.path))
        remove_stale_staged_dirs(staging, options, runner)
        for accounting, worker in staged_on_workers(
            files, warehouse, rules, staging, options.max_files_staged_ahead, runner
        ):
            done.append(accounting)
            workers[worker] += 1
            log_progress(runner, done, len(files), started)
            runner.progress("ingest: files", len(done), len(files))
    else:
        for landing in files:
            done.append(runner.run(load_file, warehouse, landing, rules))
            log_progress(runner, done, len(files), started)
            runner.progress("ingest: files", len(done), len(files))
    runner.run(publish_if_stale, warehouse)
    summary = summarize(done, time.perf_counter() - started, workers)
    runner.log.info("ingest: %s", summary)
    return summary


def remove_stale_staged_dirs(staging: str, options: IngestOptions, runner: StepRunner) -> None:
    """Remove what killed runs staged under `staging` and never loaded, saying so."""
    runner.log.info("ingest: staging files on the task runner's workers under %s", staging)
    abandoned = runner.run(remove_abandoned_staging, staging, options.stale_staging_hours)
    if abandoned:
        runner.log.warning(
            "ingest: removed %d staged directories a killed run left (untouched for %g h): %s",
            len(abandoned),
            options.stale_staging_hours,
            ", ".join(abandoned),
        )
