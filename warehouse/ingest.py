"""Ingest landing files (JSON Lines, gzip JSON Lines, CSV, Parquet) into `events` and `generations`.

Every row is judged against the event contract (DESIGN.md) set-at-a-time in DuckDB: valid new rows
are loaded, duplicates (by event_id / generation_id) dropped and counted, bad rows quarantined
with a reason code. One file = one transaction: its `ingest_files` accounting row, loaded rows and
quarantine rows commit together, so a killed run leaves each file fully loaded or untouched. A file
is identified by (path, sha256): a rerun is a no-op, a changed file is loaded again without
duplicating rows.

Scaled out (a Dask cluster), the work splits in two: `stage_landing_file` judges a file's rows on a
worker, in a private in-memory DuckDB, and writes them as day-partitioned Parquet under a staging
directory; `load_staged_file` loads them on the coordinator, the only writer of the warehouse, with
the same SQL and in the same one transaction per file as `ingest_landing_file`.

Text files are read in bounded chunks and split into records with numpy (exact physical line
numbers, CRLF tolerated, CSV quotes respected); Parquet is scanned by DuckDB in its typed columns.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import itertools
import logging
import os
import re
import shutil
import time
import uuid
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

import duckdb
import numpy as np
import pyarrow as pa

from common.hashing import file_sha256
from landing.contract import (
    CONTRACTS,
    EVENT_TYPES,
    EVENTS,
    GENERATIONS,
    RECORD_KINDS,
    REFERENCE_KINDS,
    SURFACES,
    ContractField,
)
from warehouse.erase import drop_erased_staged_rows
from warehouse.sql_files import sql_text

log = logging.getLogger(__name__)

KINDS: tuple[str, ...] = RECORD_KINDS

# file formats by (lower-case) name ending, longest ending first
FORMATS_BY_SUFFIX: tuple[tuple[str, str], ...] = (
    (".jsonl.gz", "jsonl.gz"),
    (".csv.gz", "csv.gz"),
    (".jsonl", "jsonl"),
    (".csv", "csv"),
    (".parquet", "parquet"),
)
UNSUPPORTED_FORMAT = "unsupported"

# ingest_files.status values
LOADED = "loaded"
EMPTY = "empty"
DUPLICATE_CONTENT = "duplicate_content"
UNREADABLE = "unreadable"
UNSUPPORTED = "unsupported_format"
ALREADY_INGESTED = "already_ingested"  # returned by ingest_file for a no-op; never recorded
STAGED = "staged"  # StagedFile.status: its judged rows are in Parquet, ready to load

# reason codes of whole files (quarantine.row_number = 0)
UNREADABLE_FILE = "unreadable_file"
UNSUPPORTED_FILE = "unsupported_format"

# Row reason codes in precedence order: a row breaking several rules gets the first (fields in
# contract order within a rule). oversized_field comes first for a line over max_line_bytes, and
# again after empty_id for ids and prompts; embedding_dim_mismatch is checked across rows, last.
REASON_CODES: dict[str, str] = {
    "oversized_field": "line over max_line_bytes; id over max_id_chars; prompt over "
    "max_prompt_chars",
    "bad_encoding": "the line / CSV row is not valid UTF-8 (raw keeps it with \\xNN escapes)",
    "malformed_record": "empty line, not JSON, JSON that is not an object; CSV row with the wrong "
    "number of cells or broken quotes; every row of a CSV whose header names no contract field",
    "missing_field": "a required field is absent or null; watch_ms of a view",
    "bad_type": "a field of the wrong type (a number for a string id, 1.5 for an integer, an "
    "integer out of range, a non-finite float, a list of the wrong element type)",
    "empty_id": "a required id (or model_version) is empty or blank",
    "unknown_event_type": "event_type outside the contract's list",
    "bad_enum": "surface or reference_inputs[].kind outside its list",
    "bad_timestamp": "not RFC 3339 with an offset nor integer epoch milliseconds (Parquet: a "
    "timestamp without time zone), or before min_timestamp",
    "future_timestamp": "later than ingest time plus max_future_skew",
    "negative_value": "position or watch_ms < 0; duration_ms, width, height or fps <= 0",
    "embedding_dim_mismatch": "output_embedding length differs from the one its model_version "
    "already has",
}
FILE_REASON_CODES: dict[str, str] = {
    UNREADABLE_FILE: "row 0: the file could not be read (corrupt Parquet or gzip, I/O error)",
    UNSUPPORTED_FILE: "row 0: not .jsonl, .jsonl.gz, .csv, .csv.gz or .parquet",
}

# Errors meaning "this file cannot be read": it is recorded as unreadable, the run goes on.
FILE_ERRORS: tuple[type[BaseException], ...] = (
    duckdb.IOException,
    duckdb.InvalidInputException,
    duckdb.ConversionException,
    duckdb.OutOfRangeException,
    OSError,
    EOFError,
    zlib.error,
    pa.ArrowException,
)

# names the relations of the file being loaded are registered under (session-local, never stored)
BATCH_VIEW = "ingest_batch"  # the record batches of a text file
RECORDS_VIEW = "ingest_records"  # its records, decoded, with line-level problems
CARRIERS_VIEWS: dict[str, str] = {
    EVENTS: "ingest_event_carriers",
    GENERATIONS: "ingest_generation_carriers",
}
NEWLINE = ord("\n")
CARRIAGE_RETURN = ord("\r")
QUOTE = ord('"')


@dataclass(frozen=True)
class IngestRules:
    """What ingest accepts, and how hard it may push the machine."""

    max_id_chars: int = 128
    max_prompt_chars: int = 10_000
    max_line_bytes: int = 1 << 20
    raw_preview_chars: int = 4096  # raw kept for an oversized line
    max_future_skew: timedelta = timedelta(days=1)
    min_timestamp: datetime = datetime(2000, 1, 1, tzinfo=UTC)
    event_types: tuple[str, ...] = EVENT_TYPES
    surfaces: tuple[str, ...] = SURFACES
    reference_kinds: tuple[str, ...] = REFERENCE_KINDS
    watch_ms_required_for: tuple[str, ...] = ("view",)
    read_chunk_bytes: int = 8 << 20
    batch_rows: int = 16_384  # records per Arrow batch handed to DuckDB (its unit of parallel work)
    # a file with the path, size and mtime of an ingested one is not hashed again
    skip_unchanged_by_mtime: bool = True
    memory_limit: str | None = "1536MB"  # DuckDB spills beyond it; RSS stays well under 3 GB
    threads: int | None = None


# carrier columns (<field>__<suffix>) per contract type: one per accepted representation
CARRIERS: dict[str, tuple[tuple[str, str], ...]] = {
    "string": (("s", "VARCHAR"),),
    "integer": (("i", "BIGINT"),),
    "number": (("d", "DOUBLE"),),
    "boolean": (("b", "BOOLEAN"),),
    "timestamp": (("s", "VARCHAR"), ("i", "BIGINT"), ("t", "TIMESTAMP WITH TIME ZONE")),
    "references": (("l", "STRUCT(kind VARCHAR, uri VARCHAR)[]"),),
    "embedding": (("l", "FLOAT[]"),),
    "string_list": (("l", "VARCHAR[]"),),
}
# Parquet column classes each carrier accepts (see parquet_column_class)
CARRIER_SOURCES: dict[str, frozenset[str]] = {
    "s": frozenset({"varchar"}),
    "i": frozenset({"integer"}),
    "d": frozenset({"integer", "float"}),
    "b": frozenset({"boolean"}),
    "t": frozenset({"timestamptz"}),
    "l": frozenset({"list"}),
}
INTEGER_TYPES = frozenset(
    {
        "TINYINT",
        "SMALLINT",
        "INTEGER",
        "BIGINT",
        "HUGEINT",
        "UTINYINT",
        "USMALLINT",
        "UINTEGER",
        "UBIGINT",
        "UHUGEINT",
    }
)

RECORD_SCHEMA = pa.schema(
    [
        ("row_number", pa.int64()),
        ("record", pa.large_binary()),
        ("record_bytes", pa.int64()),
    ]
)


@dataclass(frozen=True)
class LandingFile:
    """A landing file, identified by its path under the landing root and its content hash."""

    path: Path
    source_file: str
    kind: str
    file_format: str
    sha256: str
    bytes: int
    mtime_ns: int


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


@dataclass(frozen=True)
class StagedFile:
    """One landing file judged on a worker: its rows as Parquet under `directory`, or a whole-file
    outcome (status EMPTY, UNSUPPORTED or UNREADABLE with its detail) and nothing staged."""

    source_file: str
    sha256: str
    kind: str
    status: str
    directory: Path | None = None
    rows: int = 0
    detail: str | None = None
    seconds: float = 0.0
    staged_by: str = ""  # which worker judged it (set by the caller)


class StagingError(RuntimeError):
    """The coordinator cannot read back what a worker staged (not a property of the landing file)."""


# --------------------------------------------------------------------------------------------------
# discovery


def file_format_of(path: Path) -> str:
    """The landing format of a file from its name ending, or UNSUPPORTED_FORMAT."""
    name = path.name.lower()
    for suffix, file_format in FORMATS_BY_SUFFIX:
        if name.endswith(suffix):
            return file_format
    return UNSUPPORTED_FORMAT


def landing_file(
    path: Path, kind: str, source_file: str, *, chunk_bytes: int = 8 << 20
) -> LandingFile:
    """Describe one file (hashing its content)."""
    if kind not in KINDS:
        raise ValueError(f"unknown record kind {kind!r}: expected one of {', '.join(KINDS)}")
    stat = path.stat()
    return LandingFile(
        path=path,
        source_file=source_file,
        kind=kind,
        file_format=file_format_of(path),
        sha256=file_sha256(path, chunk_bytes),
        bytes=stat.st_size,
        mtime_ns=stat.st_mtime_ns,
    )


def landing_paths(landing_dir: str | Path) -> list[tuple[Path, str, str]]:
    """(path, kind, source_file) of every file under <landing>/events and /generations, sorted.

    Names starting with a dot are skipped: writers write dot-files and rename them when complete.
    """
    root = check_landing_dir(landing_dir)
    found = []
    for kind in KINDS:
        folder = root / kind
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(root)
            if any(part.startswith(".") for part in relative.parts) or not path.is_file():
                continue
            found.append((path, kind, relative.as_posix()))
    return found


def check_landing_dir(landing_dir: str | Path) -> Path:
    """The landing root if it exists with an events/ or generations/ folder, else a clear error."""
    root = Path(landing_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"landing directory not found: {root}")
    if not any((root / kind).is_dir() for kind in KINDS):
        raise ValueError(f"{root} has neither an events/ nor a generations/ folder")
    return root


def discover_new_files(
    con: duckdb.DuckDBPyConnection, landing_dir: str | Path, rules: IngestRules = IngestRules()
) -> list[LandingFile]:
    """Landing files not ingested yet: (source_file, sha256) unseen in `ingest_files`."""
    ingested = con.execute(sql_text("ingest/ingested_files")).fetchall()
    seen_content = {(source, sha) for source, sha, _, _ in ingested}
    seen_stat = {(source, size, mtime) for source, _, size, mtime in ingested if mtime is not None}
    new_files = []
    for path, kind, source_file in landing_paths(landing_dir):
        stat = path.stat()
        if (
            rules.skip_unchanged_by_mtime
            and (source_file, stat.st_size, stat.st_mtime_ns) in seen_stat
        ):
            continue
        described = landing_file(path, kind, source_file, chunk_bytes=rules.read_chunk_bytes)
        if (source_file, described.sha256) not in seen_content:
            new_files.append(described)
    return new_files


# --------------------------------------------------------------------------------------------------
# entry points


def configure_connection(con: duckdb.DuckDBPyConnection, rules: IngestRules) -> None:
    """Bound DuckDB's memory (it spills beyond it) and threads; rows carry row_number: any order."""
    if rules.memory_limit is not None:
        con.execute("set memory_limit = ?", [rules.memory_limit])
    if rules.threads is not None:
        con.execute("set threads = ?", [rules.threads])
    con.execute("set preserve_insertion_order = false")


def ingest_landing_zone(
    con: duckdb.DuckDBPyConnection,
    landing_dir: str | Path,
    rules: IngestRules = IngestRules(),
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
    rules: IngestRules = IngestRules(),
    *,
    source_file: str | None = None,
    ingested_at: datetime | None = None,
) -> FileAccounting:
    """Ingest one file of `kind` records (source_file defaults to the path); no-op if ingested."""
    path = Path(path)
    described = landing_file(
        path, kind, source_file or str(path), chunk_bytes=rules.read_chunk_bytes
    )
    already = con.execute(
        sql_text("ingest/file_ingested"),
        {"source_file": described.source_file, "sha256": described.sha256},
    ).fetchone()
    if already and already[0]:
        return _accounting(described, ALREADY_INGESTED, detail="already ingested with this content")
    return ingest_landing_file(con, described, rules, ingested_at=ingested_at)


def ingest_landing_file(
    con: duckdb.DuckDBPyConnection,
    landing: LandingFile,
    rules: IngestRules = IngestRules(),
    *,
    ingested_at: datetime | None = None,
) -> FileAccounting:
    """Load one landing file in one transaction and record its accounting; bad data never raises."""
    now = ingested_at or datetime.now(UTC)
    started = time.perf_counter()
    accounting = _whole_file_outcome(con, landing)
    if accounting is not None:
        _record_without_rows(con, accounting, landing, now)
    else:
        accounting = _load_in_transaction(
            con, landing, now, lambda: _stage_file(con, landing, rules, now)
        )
    return _logged(replace(accounting, seconds=time.perf_counter() - started))


def staging_dir_for(db_path: str | Path) -> Path:
    """`<db dir>/<db stem>.staging`: where Dask workers stage judged rows for the coordinator."""
    path = Path(db_path)
    return path.with_name(f"{path.stem}.staging")


def stage_landing_file(
    landing: LandingFile, rules: IngestRules, now: datetime, staging_dir: str | Path
) -> StagedFile:
    """Worker side: judge every row of one file (as ingest does, `now` being the ingest time the
    coordinator records) in a private in-memory DuckDB; write them as Parquet partitioned by day.

    Needs no warehouse: the checks that do (embedding length per model_version, erased people,
    dedup) run when the coordinator loads the file. A file that cannot be read is an outcome,
    not an error; a landing folder or staging directory this worker cannot reach raises.
    """
    started = time.perf_counter()

    def outcome(status: str, detail: str | None = None) -> StagedFile:
        seconds = time.perf_counter() - started
        return StagedFile(
            landing.source_file,
            landing.sha256,
            landing.kind,
            status,
            detail=detail,
            seconds=seconds,
        )

    if landing.bytes == 0:
        return outcome(EMPTY)
    if landing.file_format == UNSUPPORTED_FORMAT:
        return outcome(UNSUPPORTED, FILE_REASON_CODES[UNSUPPORTED_FILE])
    if not landing.path.parent.is_dir():
        raise FileNotFoundError(
            f"landing folder {landing.path.parent} not found here: with a Dask cluster the landing "
            "zone must be on storage every worker can reach"
        )
    root = Path(staging_dir)
    root.mkdir(parents=True, exist_ok=True)
    directory = root / f"{landing.sha256[:16]}-{uuid.uuid4().hex[:12]}"
    spill = directory.with_name(f"{directory.name}.spill")
    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        con.execute("set temp_directory = ?", [str(spill)])
        configure_connection(con, rules)
        try:
            _judge_file(con, landing, rules, now)
        except FILE_ERRORS as exc:
            return outcome(UNREADABLE, _unreadable_detail(landing, exc))
        finally:
            _unregister_views(con)
        rows = sum(int(n) for _, n in con.execute(sql_text("ingest/staged_counts")).fetchall())
        if rows:
            try:
                con.execute(
                    sql_text(f"ingest/staged_{landing.kind}_to_parquet"),
                    {
                        "directory": str(directory),
                        "min_timestamp": rules.min_timestamp,
                        "max_timestamp": now + rules.max_future_skew,
                    },
                )
            except BaseException:
                shutil.rmtree(directory, ignore_errors=True)  # a retry stages into a new directory
                raise
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)
    return replace(outcome(STAGED), directory=directory if rows else None, rows=rows)


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
        accounting = _whole_file_outcome(con, landing)
        if accounting is None and staged.status == UNREADABLE:
            accounting = _accounting(landing, UNREADABLE, detail=staged.detail)
        if accounting is not None:
            _record_without_rows(con, accounting, landing, now)
        elif staged.status != STAGED:
            raise ValueError(f"{landing.source_file}: nothing staged (status {staged.status})")
        else:
            accounting = _load_in_transaction(
                con, landing, now, lambda: _restage_file(con, landing.kind, staged)
            )
    finally:
        remove_staged_file(staged)
    seconds = staged.seconds + time.perf_counter() - started
    return _logged(replace(accounting, seconds=seconds))


STAGED_NAME = re.compile(r"[0-9a-f]{16}-[0-9a-f]{12}(\.spill)?")
"""How `stage_landing_file` names a staged directory (sha256 prefix - run id) and its spill folder."""


def remove_stale_staging(
    staging_dir: str | Path, older_than: timedelta, now: datetime
) -> list[Path]:
    """Delete staged directories nothing has written to for `older_than`; returns them.

    A coordinator killed mid-run leaves the files it had not loaded yet. Only names that staging
    writes are considered, by the newest change inside them, so a run in progress keeps its own.
    """
    root = Path(staging_dir)
    if not root.is_dir():
        return []
    cutoff = (now - older_than).timestamp()
    removed = []
    for entry in sorted(root.iterdir()):
        if entry.is_dir() and STAGED_NAME.fullmatch(entry.name) and _last_change(entry) < cutoff:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def _last_change(directory: Path) -> float:
    """The newest modification time of `directory` and everything under it (inf if it is gone)."""
    try:
        newest = directory.stat().st_mtime
    except OSError:  # loaded and removed by its own run meanwhile
        return float("inf")
    for folder, subfolders, files in os.walk(directory):
        for name in (*subfolders, *files):
            with contextlib.suppress(OSError):  # removed while we look
                newest = max(newest, os.stat(os.path.join(folder, name)).st_mtime)
    return newest


def remove_staged_file(staged: StagedFile) -> None:
    """Delete the Parquet a worker staged for one file (once loaded, or abandoned)."""
    if staged.directory is not None:
        shutil.rmtree(staged.directory, ignore_errors=True)


def _restage_file(con: duckdb.DuckDBPyConnection, kind: str, staged: StagedFile) -> None:
    """Fill temp table `ingest_staged` from a worker's Parquet, then the checks that need the
    warehouse; a staged row that cannot be read back is an error, never a silent loss."""
    con.execute(sql_text(f"ingest/staged_{kind}_create"))
    if staged.rows:
        files = str(Path(staged.directory or ".") / "**" / "*.parquet")
        try:
            inserted = con.execute(sql_text("ingest/staged_from_parquet"), {"files": files})
            row = inserted.fetchone()
        except (duckdb.Error, OSError) as exc:
            raise StagingError(_unreachable_staging(staged, str(exc))) from exc
        if row is None or int(row[0]) != staged.rows:
            found = int(row[0]) if row else 0
            raise StagingError(_unreachable_staging(staged, f"{found} of {staged.rows} rows found"))
    _check_embedding_dims(con, kind)


def _unreachable_staging(staged: StagedFile, problem: str) -> str:
    return (
        f"cannot read the rows staged for {staged.source_file} under {staged.directory} "
        f"({' '.join(problem.split())[:300]}): the staging directory must be on storage the "
        "Dask workers and the coordinator share"
    )


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
    """Empty, unsupported, or a copy of content already ingested: recorded without its rows."""
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
    first = con.execute(
        sql_text("ingest/content_seen"), {"sha256": landing.sha256, "kind": landing.kind}
    ).fetchone()
    if first is None:
        return None
    original, rows_read = first
    return _accounting(
        landing, DUPLICATE_CONTENT, detail=f"same content as {original}", rows=rows_read
    )


def _record_without_rows(
    con: duckdb.DuckDBPyConnection, accounting: FileAccounting, landing: LandingFile, now: datetime
) -> None:
    """Record a file not loaded row by row; unreadable / unsupported ones get a quarantine row 0."""
    reason = {UNREADABLE: UNREADABLE_FILE, UNSUPPORTED: UNSUPPORTED_FILE}.get(accounting.status)
    con.execute("begin transaction")
    try:
        if reason is not None:
            con.execute(
                sql_text("ingest/file_quarantine_insert"),
                {
                    "source_file": landing.source_file,
                    "kind": landing.kind,
                    "reason_code": reason,
                    "detail": accounting.detail,
                    "quarantined_at": now,
                },
            )
        _insert_ingest_file(con, accounting, landing, now)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def _insert_ingest_file(
    con: duckdb.DuckDBPyConnection, accounting: FileAccounting, landing: LandingFile, now: datetime
) -> None:
    con.execute(
        sql_text("ingest/ingest_file_insert"),
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
    """Stage (`stage` fills `ingest_staged`), load and record one file in one transaction; an
    unreadable file is recorded."""
    con.execute("begin transaction")
    try:
        stage()
        drop_erased_staged_rows(con, landing.kind)  # never load an erased person's rows again
        accounting = _load_staged(con, landing, now)
        _insert_ingest_file(con, accounting, landing, now)
        con.execute(sql_text("ingest/staged_drop"))
        con.execute("commit")
        return accounting
    except FILE_ERRORS as exc:
        con.execute("rollback")
        failed = _accounting(landing, UNREADABLE, detail=_unreadable_detail(landing, exc))
        _record_without_rows(con, failed, landing, now)
        return failed
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        _unregister_views(con)


def _unreadable_detail(landing: LandingFile, exc: BaseException) -> str:
    """The ingest_files detail of a file that could not be read: the error, on one line."""
    message = " ".join(str(exc).split())[:500] or type(exc).__name__
    log.warning("ingest %s: unreadable file: %s", landing.source_file, message)
    return f"{type(exc).__name__}: {message}"


def _stage_file(
    con: duckdb.DuckDBPyConnection, landing: LandingFile, rules: IngestRules, now: datetime
) -> None:
    """Fill temp table `ingest_staged` with every row of the file, judged (null reason = valid)."""
    _judge_file(con, landing, rules, now)
    _check_embedding_dims(con, landing.kind)


def _check_embedding_dims(con: duckdb.DuckDBPyConnection, kind: str) -> None:
    """Reject staged generations whose embedding length differs from their model_version's (the
    one rule that looks at the warehouse, so it runs where the warehouse is)."""
    if kind == GENERATIONS:
        con.execute(sql_text("ingest/staged_generations_embedding_check"))


def _judge_file(
    con: duckdb.DuckDBPyConnection, landing: LandingFile, rules: IngestRules, now: datetime
) -> None:
    """Fill temp table `ingest_staged` with every row of the file judged by the per-row rules."""
    kind = landing.kind
    con.execute(sql_text(f"ingest/staged_{kind}_create"))
    carriers_view = CARRIERS_VIEWS[kind]
    if landing.file_format == "parquet":
        con.register(carriers_view, _parquet_carriers(con, landing.path, CONTRACTS[kind]))
        con.execute(sql_text(f"ingest/staged_{kind}_insert"), _judge_params(kind, rules, now))
    else:
        with _open_text(landing.path, landing.file_format) as stream:
            batches = iter_record_batches(
                stream,
                quoted=landing.file_format.startswith("csv"),
                chunk_bytes=rules.read_chunk_bytes,
                max_record_bytes=rules.max_line_bytes,
                max_batch_rows=rules.batch_rows,
            )
            if landing.file_format.startswith("csv"):
                batches = _after_csv_header(con, batches, CONTRACTS[kind])
                records_sql = "ingest/records_from_csv"
            else:
                records_sql = "ingest/records_from_jsonl"
            # DuckDB pulls the batches as it judges them: one statement, the file streamed through
            con.register(BATCH_VIEW, pa.RecordBatchReader.from_batches(RECORD_SCHEMA, batches))
            con.register(RECORDS_VIEW, con.sql(sql_text(records_sql)))
            carriers_sql = sql_text(f"ingest/{kind.removesuffix('s')}_carriers_from_records")
            con.register(carriers_view, con.sql(carriers_sql))
            con.execute(sql_text(f"ingest/staged_{kind}_insert"), _judge_params(kind, rules, now))


def _load_staged(
    con: duckdb.DuckDBPyConnection, landing: LandingFile, now: datetime
) -> FileAccounting:
    """Quarantine the rejected staged rows, insert the new valid ones, and count."""
    con.execute(
        sql_text("ingest/quarantine_insert"),
        {
            "source_file": landing.source_file,
            "kind": landing.kind,
            "quarantined_at": now,
        },
    )
    inserted = con.execute(
        sql_text(f"ingest/{landing.kind}_insert"),
        {
            "source_file": landing.source_file,
            "ingested_at": now,
        },
    ).fetchone()
    rows_loaded = int(inserted[0]) if inserted else 0
    counts = dict(con.execute(sql_text("ingest/staged_counts")).fetchall())
    valid = int(counts.pop(None, 0))
    by_reason = {str(code): int(n) for code, n in sorted(counts.items())}
    rows_quarantined = sum(by_reason.values())
    return FileAccounting(
        source_file=landing.source_file,
        kind=landing.kind,
        file_format=landing.file_format,
        status=LOADED,
        sha256=landing.sha256,
        bytes=landing.bytes,
        rows_read=valid + rows_quarantined,
        rows_loaded=rows_loaded,
        rows_duplicate=valid - rows_loaded,
        rows_quarantined=rows_quarantined,
        quarantined_by_reason=by_reason,
    )


def _judge_params(kind: str, rules: IngestRules, now: datetime) -> dict[str, object]:
    common: dict[str, object] = {
        "max_line_bytes": rules.max_line_bytes,
        "raw_preview_chars": rules.raw_preview_chars,
        "max_id_chars": rules.max_id_chars,
        "min_timestamp": rules.min_timestamp,
        "max_timestamp": now + rules.max_future_skew,
    }
    if kind == EVENTS:
        return {
            **common,
            "event_types": list(rules.event_types),
            "surfaces": list(rules.surfaces),
            "watch_ms_required_for": list(rules.watch_ms_required_for),
        }
    return {
        **common,
        "max_prompt_chars": rules.max_prompt_chars,
        "reference_kinds": list(rules.reference_kinds),
    }


def _unregister_views(con: duckdb.DuckDBPyConnection) -> None:
    for name in (BATCH_VIEW, RECORDS_VIEW, *CARRIERS_VIEWS.values()):
        with contextlib.suppress(duckdb.Error):
            con.unregister(name)


# --------------------------------------------------------------------------------------------------
# Parquet


def parquet_column_class(type_name: str) -> str:
    """The class of a DuckDB column type that decides which carrier may take it."""
    if type_name.endswith("]"):
        return "list"
    if type_name in INTEGER_TYPES:
        return "integer"
    if type_name in ("FLOAT", "DOUBLE") or type_name.startswith("DECIMAL"):
        return "float"
    if type_name == "TIMESTAMP WITH TIME ZONE":
        return "timestamptz"
    if type_name.startswith("TIMESTAMP") or type_name == "DATE":
        return "naive_time"
    return {"VARCHAR": "varchar", "BOOLEAN": "boolean"}.get(type_name, "other")


def _parquet_carriers(
    con: duckdb.DuckDBPyConnection, path: Path, fields: Sequence[ContractField]
) -> duckdb.DuckDBPyRelation:
    """Carrier columns of a Parquet file's rows, built from its schema by relation expressions."""
    column = duckdb.ColumnExpression
    constant = duckdb.ConstantExpression
    function = duckdb.FunctionExpression
    source = con.read_parquet(str(path), file_row_number=True)
    types = {name: str(kind) for name, kind in zip(source.columns, source.types, strict=True)}
    data_columns = [name for name in source.columns if name != "file_row_number"]
    contract_names = {f.name for f in fields}
    extra_columns = [name for name in data_columns if name not in contract_names]

    def as_json(names: Sequence[str]) -> duckdb.Expression:
        return function(
            "to_json", function("struct_pack", *[column(n).alias(n) for n in names])
        ).cast("VARCHAR")

    expressions = [
        (column("file_row_number") + constant(1)).alias("row_number"),
        constant(None).cast("BIGINT").alias("record_bytes"),
        constant(None).cast("VARCHAR").alias("raw"),
        # the whole row; judging turns it into JSON text only for rows that need their raw record
        function("struct_pack", *[column(n).alias(n) for n in data_columns]).alias("src"),
        constant(None).cast("VARCHAR").alias("line_reason"),
        constant(None).cast("VARCHAR").alias("line_detail"),
        (as_json(extra_columns) if extra_columns else constant(None).cast("VARCHAR")).alias(
            "extra"
        ),
    ]
    for contract_field in fields:
        name = contract_field.name
        source_class = parquet_column_class(types[name]) if name in types else None
        present = column(name).isnotnull() if source_class else constant(False)
        expressions.append(present.alias(f"{name}__present"))
        for suffix, sql_type in CARRIERS[contract_field.value_type]:
            if source_class in CARRIER_SOURCES[suffix]:
                value = column(name) if types[name] == sql_type else column(name).try_cast(sql_type)
            elif (
                contract_field.value_type == "timestamp"
                and suffix == "s"
                and source_class == "naive_time"
            ):
                value = column(name).cast("VARCHAR")  # no offset: judged bad_timestamp
            else:
                value = constant(None).cast(sql_type)
            expressions.append(value.alias(f"{name}__{suffix}"))
    return source.select(*expressions)


# --------------------------------------------------------------------------------------------------
# text formats: records split from bounded chunks


def _open_text(path: Path, file_format: str) -> BinaryIO:
    if file_format.endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def iter_record_batches(
    stream: BinaryIO,
    *,
    quoted: bool,
    chunk_bytes: int = 8 << 20,
    max_record_bytes: int = 1 << 20,
    max_batch_rows: int = 16_384,
) -> Iterator[pa.RecordBatch]:
    """Newline-separated records of a byte stream as (row_number, record, record_bytes) batches.

    row_number is the physical line on which the record starts; a trailing CR is dropped (CRLF
    files); with `quoted` (CSV) a newline inside double quotes does not end the record. A record
    longer than max_record_bytes that spans chunks keeps only its first max_record_bytes bytes
    (record_bytes has its true length), so memory stays bounded by the chunk size.
    """
    line_at_chunk = 1  # physical line of the first byte of the next chunk
    pending = bytearray()  # the unfinished record that started in an earlier chunk (capped)
    pending_bytes = 0  # its true length
    pending_line = 1
    pending_quotes = 0  # parity of the quotes in it
    while chunk := stream.read(chunk_bytes):
        data = np.frombuffer(chunk, dtype=np.uint8)
        newlines = np.flatnonzero(data == NEWLINE)
        quotes = np.flatnonzero(data == QUOTE) if quoted else np.empty(0, dtype=np.int64)
        if quoted:
            ends_index = np.flatnonzero(
                ((np.searchsorted(quotes, newlines) + pending_quotes) & 1) == 0
            )
        else:
            ends_index = np.arange(len(newlines))
        if len(ends_index) == 0:
            _extend_capped(pending, chunk, max_record_bytes)
            pending_bytes += len(chunk)
            pending_quotes = (pending_quotes + len(quotes)) & 1
            line_at_chunk += len(newlines)
            continue
        ends = newlines[ends_index]

        # the first record: what was pending, completed by the head of this chunk
        head = int(ends[0])
        first = bytes(pending) + chunk[: min(head, max(max_record_bytes - len(pending), 0))]
        first_bytes = pending_bytes + head
        if first_bytes == len(first) and first.endswith(b"\r"):
            first, first_bytes = first[:-1], first_bytes - 1

        # the records between the chunk's record ends, copied once without their CR LF terminators

        starts = ends[:-1] + 1
        stops = ends[1:].copy()
        has_cr = (stops > starts) & (data[np.maximum(stops - 1, 0)] == CARRIAGE_RETURN)
        stops -= has_cr
        lengths = stops - starts
        base = int(ends[0]) + 1
        region = data[base : int(ends[-1])]
        keep = np.ones(len(region), dtype=bool)
        keep[ends[1:-1] - base] = False
        keep[stops[has_cr] - base] = False
        values = np.concatenate([np.frombuffer(first, dtype=np.uint8), region[keep]])
        offsets = np.zeros(len(lengths) + 2, dtype=np.int64)
        offsets[1] = len(first)
        np.cumsum(lengths, out=offsets[2:])
        offsets[2:] += len(first)
        row_numbers = np.concatenate([[pending_line], line_at_chunk + ends_index[:-1] + 1]).astype(
            np.int64
        )
        record_bytes = np.concatenate([[first_bytes], lengths]).astype(np.int64)
        batch = _record_batch(row_numbers, offsets, values, record_bytes)
        for offset in range(0, batch.num_rows, max_batch_rows):
            yield batch.slice(offset, max_batch_rows)

        tail = memoryview(chunk)[int(ends[-1]) + 1 :]
        pending = bytearray()
        _extend_capped(pending, tail, max_record_bytes)
        pending_bytes = len(tail)
        pending_line = line_at_chunk + int(ends_index[-1]) + 1
        pending_quotes = (len(quotes) - int(np.searchsorted(quotes, int(ends[-1]) + 1))) & 1
        line_at_chunk += len(newlines)
    if pending_bytes:
        last = bytes(pending)
        if pending_bytes == len(last) and last.endswith(b"\r"):
            last, pending_bytes = last[:-1], pending_bytes - 1
        values = np.frombuffer(last, dtype=np.uint8)
        yield _record_batch(
            np.array([pending_line], dtype=np.int64),
            np.array([0, len(last)], dtype=np.int64),
            values,
            np.array([pending_bytes], dtype=np.int64),
        )


def _extend_capped(buffer: bytearray, more: bytes | memoryview, cap: int) -> None:
    room = cap - len(buffer)
    if room > 0:
        buffer += more[:room]


def _record_batch(
    row_numbers: np.ndarray, offsets: np.ndarray, values: np.ndarray, record_bytes: np.ndarray
) -> pa.RecordBatch:
    records = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), len(row_numbers), [None, pa.py_buffer(offsets), pa.py_buffer(values)]
    )
    return pa.RecordBatch.from_arrays(
        [pa.array(row_numbers, pa.int64()), records, pa.array(record_bytes, pa.int64())],
        schema=RECORD_SCHEMA,
    )


def _after_csv_header(
    con: duckdb.DuckDBPyConnection,
    batches: Iterator[pa.RecordBatch],
    fields: Sequence[ContractField],
) -> Iterator[pa.RecordBatch]:
    """Read a CSV's header (its first record) into `ingest_csv_header`; the data records follow.

    A header naming no contract field means the file has no header: every record, the first
    included, is then quarantined as malformed_record.
    """
    first = next(batches, None)
    names: list[str] = []
    if first is not None and first.num_rows:
        names = csv_header_names(first.column("record")[0].as_py())
    has_header = bool(set(names) & {f.name for f in fields})
    con.execute(sql_text("ingest/csv_header"), {"names": names or ["_"], "has_header": has_header})
    if first is None:
        return iter(())
    return itertools.chain([first.slice(1) if has_header else first], batches)


def csv_header_names(header: bytes) -> list[str]:
    """Column names of a CSV header line (UTF-8, optional BOM); duplicates renamed name__2, ..."""
    try:
        text = header.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        return []
    try:
        cells = next(csv.reader([text], strict=True), [])
    except csv.Error:
        return []
    names: list[str] = []
    for cell in (c.strip() for c in cells):
        name, n = cell, 1
        while name in names:
            n += 1
            name = f"{cell}__{n}"
        names.append(name)
    return names
