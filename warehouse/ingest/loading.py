"""Loading into the warehouse: one landing file (judged here) or one staged file (judged on a
worker) in one transaction with its `ingest_files` accounting row and its quarantine rows; whole
files that are empty, unsupported, unreadable or copies of ingested content are recorded alone."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from warehouse.connection import transaction
from warehouse.erase import drop_erased_staged_rows
from warehouse.ingest.contract import (
    ALREADY_INGESTED,
    DEFAULT_RULES,
    DUPLICATE_CONTENT,
    EMPTY,
    FILE_ERRORS,
    FILE_PROBLEMS,
    FILE_REASON_CODES,
    LOADED,
    NO_CSV_HEADER,
    STAGED,
    UNREADABLE,
    UNSUPPORTED,
    UNSUPPORTED_FILE,
    IngestRules,
)
from warehouse.ingest.discovery import (
    UNSUPPORTED_FORMAT,
    LandingFile,
    already_ingested,
    discover_new_files,
    first_with_content,
    landing_file,
    stat_identity,
)
from warehouse.ingest.judging import (
    STAGED_ROWS_SQL,
    STAGED_SQL,
    check_embedding_dims,
    configure_connection,
    judge_file,
    staged_row_counts,
    unreadable_detail,
    unregister_views,
)
from warehouse.ingest.records import staged_csv_is_headless
from warehouse.ingest.staging import StagedFile, remove_staged_file, restage_file
from warehouse.sql_files import sql_statement

log = logging.getLogger(__name__)

RECORD_FILE = "ingest/record_file"
NO_HEADER_DETAIL = (
    "the CSV header names no contract field: every row quarantined as malformed_record"
)


@dataclass(frozen=True)
class FileAccounting:
    """What happened to one file: rows_read = rows_loaded + rows_duplicate + rows_quarantined."""

    source_file: str
    kind: str
    file_format: str
    status: str
    sha256: str
    bytes: int
    rows_read: int
    rows_loaded: int
    rows_duplicate: int
    rows_quarantined: int
    quarantined_by_reason: Mapping[str, int] = field(default_factory=dict)
    detail: str | None = None
    seconds: float = 0.0


def ingest_landing_zone(
    con: duckdb.DuckDBPyConnection,
    landing_dir: str | Path,
    rules: IngestRules = DEFAULT_RULES,
    *,
    ingested_at: datetime | None = None,
) -> list[FileAccounting]:
    """Ingest every new file of a landing zone, one transaction per file, in path order."""
    configure_connection(con, rules)
    return [
        ingest_landing_file(con, landing, rules, ingested_at=ingested_at)
        for landing in discover_new_files(con, landing_dir, rules)
    ]


def ingest_file(
    con: duckdb.DuckDBPyConnection,
    path: str | Path,
    kind: str,
    rules: IngestRules = DEFAULT_RULES,
    *,
    source_file: str | None = None,
    ingested_at: datetime | None = None,
) -> FileAccounting:
    """Ingest one file of `kind` records (source_file defaults to the path); no-op if ingested."""
    path = Path(path)
    described = landing_file(
        path, kind, source_file or str(path), chunk_bytes=rules.read_chunk_bytes
    )
    if already_ingested(con, described):
        return _accounting(described, ALREADY_INGESTED, detail="already ingested with this content")
    return ingest_landing_file(con, described, rules, ingested_at=ingested_at)


def ingest_landing_file(
    con: duckdb.DuckDBPyConnection,
    landing: LandingFile,
    rules: IngestRules = DEFAULT_RULES,
    *,
    ingested_at: datetime | None = None,
) -> FileAccounting:
    """Load one landing file in one transaction and record its accounting; bad data never raises."""
    now = ingested_at or datetime.now(UTC)
    started = time.perf_counter()
    if already_ingested(con, landing):  # a concurrent run recorded it since discovery
        return _accounting(landing, ALREADY_INGESTED, detail="recorded by another run")
    accounting = _whole_file_outcome(con, landing)
    if accounting is not None:
        _record_without_rows(con, accounting, landing, now)
    else:
        accounting = _load_in_transaction(
            con, landing, now, lambda: _judge_here(con, landing, rules, now)
        )
    return _logged(replace(accounting, seconds=time.perf_counter() - started))


def load_staged_file(
    con: duckdb.DuckDBPyConnection, landing: LandingFile, staged: StagedFile, now: datetime
) -> FileAccounting:
    """Coordinator side: load what `stage_landing_file` staged for `landing`, exactly as
    `ingest_landing_file` would (whole-file outcomes first, then one transaction), recording
    `now` (the time the rows were judged against); the staged directory is deleted after."""
    if (staged.source_file, staged.sha256) != (landing.source_file, landing.sha256):
        raise ValueError(
            f"staged rows of {staged.source_file} ({staged.sha256[:12]}) do not belong to "
            f"{landing.source_file} ({landing.sha256[:12]})"
        )
    started = time.perf_counter()
    try:
        if already_ingested(con, landing):  # a concurrent run recorded it since discovery
            return _accounting(landing, ALREADY_INGESTED, detail="recorded by another run")
        accounting = _whole_file_outcome(con, landing)
        if accounting is None and staged.status == UNREADABLE:
            accounting = _accounting(landing, UNREADABLE, detail=staged.detail)
        if accounting is not None:
            _record_without_rows(con, accounting, landing, now)
        elif staged.status != STAGED:
            raise ValueError(f"{landing.source_file}: nothing staged (status {staged.status})")
        else:
            accounting = _load_in_transaction(
                con, landing, now, lambda: _judged_on_worker(con, landing.kind, staged)
            )
    finally:
        remove_staged_file(staged)
    seconds = staged.seconds + time.perf_counter() - started
    return _logged(replace(accounting, seconds=seconds))


class FileChangedWhileRead(OSError):
    """The file was written to between discovery (its identity and hash) and the end of reading
    it: its rows may mix two contents, none of which the recorded hash would describe."""


def _judge_here(
    con: duckdb.DuckDBPyConnection, landing: LandingFile, rules: IngestRules, now: datetime
) -> None:
    """Fill temp table `ingest_staged` with every row of the file, judged (null reason = valid);
    a file written to since it was hashed is refused (FileChangedWhileRead)."""
    judge_file(con, landing, rules, now)
    if _written_in_place(landing):
        raise FileChangedWhileRead(
            "the file was written to while it was read: nothing loaded; the next run reads it again"
        )


def _written_in_place(landing: LandingFile) -> bool:
    """Whether the file (same device and inode) was written to since discovery took its identity.
    (A file replaced by a rename is another inode: the reader kept the one it opened.)"""
    try:
        now = stat_identity(landing.path.stat())
    except FileNotFoundError:  # removed after it was read: what was read is what was hashed
        return False
    same_inode = now.split(":")[:2] == landing.identity.split(":")[:2]
    return same_inode and now != landing.identity


def _judged_on_worker(con: duckdb.DuckDBPyConnection, kind: str, staged: StagedFile) -> None:
    """Fill temp table `ingest_staged` from a worker's Parquet (the checks that need the
    warehouse run in the load transaction)."""
    restage_file(con, kind, staged)


def _logged(accounting: FileAccounting) -> FileAccounting:
    """Log one file's outcome and rate; returns it."""
    rate = accounting.rows_read / accounting.seconds if accounting.seconds > 0 else 0.0
    log.info(
        "ingest %s [%s]: %s, %d read, %d loaded, %d duplicate, %d quarantined (%.0f rows/s)",
        accounting.source_file,
        accounting.kind,
        accounting.status,
        accounting.rows_read,
        accounting.rows_loaded,
        accounting.rows_duplicate,
        accounting.rows_quarantined,
        rate,
    )
    return accounting


# --------------------------------------------------------------------------------------------------
# whole-file outcomes


def _whole_file_outcome(
    con: duckdb.DuckDBPyConnection, landing: LandingFile
) -> FileAccounting | None:
    """A problem found at discovery, empty, unsupported, or a copy of content already ingested:
    recorded without its rows."""
    if landing.problem is not None:
        return _accounting(landing, landing.problem, detail=landing.detail)
    if landing.bytes == 0:
        return _accounting(landing, EMPTY)
    if landing.file_format == UNSUPPORTED_FORMAT:
        return _accounting(landing, UNSUPPORTED, detail=FILE_REASON_CODES[UNSUPPORTED_FILE])
    return _duplicate_content(con, landing)


def _accounting(
    landing: LandingFile, status: str, *, detail: str | None = None, rows: int = 0
) -> FileAccounting:
    return FileAccounting(
        source_file=landing.source_file,
        kind=landing.kind,
        file_format=landing.file_format,
        status=status,
        sha256=landing.sha256,
        bytes=landing.bytes,
        rows_read=rows,
        rows_loaded=0,
        rows_duplicate=rows,
        rows_quarantined=0,
        detail=detail,
    )


def _duplicate_content(
    con: duckdb.DuckDBPyConnection, landing: LandingFile
) -> FileAccounting | None:
    """A copy of content already ingested under another name: its rows count as duplicates."""
    first = first_with_content(con, landing)
    if first is None:
        return None
    original, rows_read = first
    return _accounting(
        landing, DUPLICATE_CONTENT, detail=f"same content as {original}", rows=rows_read
    )


def _record_without_rows(
    con: duckdb.DuckDBPyConnection, accounting: FileAccounting, landing: LandingFile, now: datetime
) -> None:
    """Record a file not loaded row by row; a whole-file problem gets a quarantine row 0."""
    reason = FILE_PROBLEMS.get(accounting.status)
    with transaction(con):
        if reason is not None:
            con.execute(
                sql_statement(RECORD_FILE, "quarantine_whole_file"),
                {
                    "source_file": landing.source_file,
                    "kind": landing.kind,
                    "reason_code": reason,
                    "detail": accounting.detail,
                    "quarantined_at": now,
                },
            )
        _insert_ingest_file(con, accounting, landing, now)


def _insert_ingest_file(
    con: duckdb.DuckDBPyConnection, accounting: FileAccounting, landing: LandingFile, now: datetime
) -> None:
    con.execute(
        sql_statement(RECORD_FILE, "ingest_file"),
        {
            "source_file": landing.source_file,
            "sha256": landing.sha256,
            "kind": landing.kind,
            "file_format": landing.file_format,
            "bytes": landing.bytes,
            "rows_read": accounting.rows_read,
            "rows_loaded": accounting.rows_loaded,
            "rows_duplicate": accounting.rows_duplicate,
            "rows_quarantined": accounting.rows_quarantined,
            "ingested_at": now,
            "status": accounting.status,
            "detail": accounting.detail,
            "file_mtime_ns": landing.mtime_ns,
            "file_identity": landing.identity,
        },
    )


# --------------------------------------------------------------------------------------------------
# row-by-row load


def _load_in_transaction(
    con: duckdb.DuckDBPyConnection,
    landing: LandingFile,
    now: datetime,
    stage: Callable[[], None],
) -> FileAccounting:
    """Stage (`stage` fills temp table `ingest_staged` from the file alone, before the
    transaction, so a reader may retry), then load and record the file in one transaction; an
    unreadable file is recorded."""
    try:
        stage()
        with transaction(con):
            check_embedding_dims(con, landing.kind)
            drop_erased_staged_rows(con, landing.kind)  # never load an erased person's rows again
            accounting = _load_staged(con, landing, now)
            _insert_ingest_file(con, accounting, landing, now)
            con.execute(sql_statement(STAGED_ROWS_SQL, "drop"))
        return accounting
    except FILE_ERRORS as exc:
        if isinstance(exc, FileChangedWhileRead):  # its hash names content that was not loaded
            landing = replace(landing, sha256="")
        failed = _accounting(landing, UNREADABLE, detail=unreadable_detail(landing, exc))
        _record_without_rows(con, failed, landing, now)
        return failed
    finally:
        unregister_views(con)


def _load_staged(
    con: duckdb.DuckDBPyConnection, landing: LandingFile, now: datetime
) -> FileAccounting:
    """Quarantine the rejected staged rows, insert the new valid ones, and count."""
    con.execute(
        sql_statement(STAGED_ROWS_SQL, "quarantine"),
        {
            "source_file": landing.source_file,
            "kind": landing.kind,
            "quarantined_at": now,
        },
    )
    inserted = con.execute(
        sql_statement(STAGED_SQL[landing.kind], "load"),
        {
            "source_file": landing.source_file,
            "ingested_at": now,
        },
    ).fetchone()
    rows_loaded = int(inserted[0]) if inserted else 0
    counts = staged_row_counts(con)
    valid = counts.pop(None, 0)
    by_reason = {str(code): n for code, n in sorted(counts.items())}
    rows_quarantined = sum(by_reason.values())
    headless = landing.file_format.startswith("csv") and staged_csv_is_headless(con)
    return FileAccounting(
        source_file=landing.source_file,
        kind=landing.kind,
        file_format=landing.file_format,
        status=NO_CSV_HEADER if headless else LOADED,
        sha256=landing.sha256,
        bytes=landing.bytes,
        rows_read=valid + rows_quarantined,
        rows_loaded=rows_loaded,
        rows_duplicate=valid - rows_loaded,
        rows_quarantined=rows_quarantined,
        quarantined_by_reason=by_reason,
        detail=NO_HEADER_DETAIL if headless else None,
    )
