"""Staging for a Dask cluster: a worker judges a landing file's rows in a private in-memory DuckDB
and writes them as day-partitioned Parquet under the staging directory; the coordinator reads
them back into `ingest_staged` to load them, then deletes them (and what killed runs left)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from warehouse.ingest.contract import (
    EMPTY,
    FILE_ERRORS,
    FILE_REASON_CODES,
    STAGED,
    UNREADABLE,
    UNSUPPORTED,
    UNSUPPORTED_FILE,
    IngestRules,
)
from warehouse.ingest.discovery import UNSUPPORTED_FORMAT, LandingFile
from warehouse.ingest.judging import (
    STAGED_ROWS_SQL,
    STAGED_SQL,
    configure_connection,
    judge_file,
    staged_row_counts,
    unreadable_detail,
    unregister_views,
)
from warehouse.sql_files import sql_statement

STAGED_NAME = re.compile(r"[0-9a-f]{16}-[0-9a-f]{12}(\.spill)?")
"""How `stage_landing_file` names a staged directory (sha256 prefix - run id) and its spill folder."""


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

    if landing.problem is not None:
        return outcome(landing.problem, landing.detail)
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
            judge_file(con, landing, rules, now)
        except FILE_ERRORS as exc:
            return outcome(UNREADABLE, unreadable_detail(landing, exc))
        finally:
            unregister_views(con)
        rows = sum(staged_row_counts(con).values())
        if rows:
            _write_staged(con, landing, rules, now, directory)
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)
    return replace(outcome(STAGED), directory=directory if rows else None, rows=rows)


def _write_staged(
    con: duckdb.DuckDBPyConnection,
    landing: LandingFile,
    rules: IngestRules,
    now: datetime,
    directory: Path,
) -> None:
    """Write `ingest_staged` as Parquet under `directory`, partitioned by day of the timestamp."""
    try:
        con.execute(
            sql_statement(STAGED_SQL[landing.kind], "to_parquet"),
            {
                "directory": str(directory),
                "min_timestamp": rules.min_timestamp,
                "max_timestamp": now + rules.max_future_skew,
            },
        )
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)  # a retry stages into a new directory
        raise


def restage_file(con: duckdb.DuckDBPyConnection, kind: str, staged: StagedFile) -> None:
    """Fill temp table `ingest_staged` with the `kind` rows a worker staged as Parquet; a staged
    row that cannot be read back is an error, never a silent loss."""
    con.execute(sql_statement(STAGED_SQL[kind], "create"))
    if not staged.rows:
        return
    files = str(Path(staged.directory or ".") / "**" / "*.parquet")
    try:
        inserted = con.execute(sql_statement(STAGED_ROWS_SQL, "from_parquet"), {"files": files})
        row = inserted.fetchone()
    except (duckdb.Error, OSError) as exc:
        raise StagingError(_unreachable_staging(staged, str(exc))) from exc
    if row is None or int(row[0]) != staged.rows:
        found = int(row[0]) if row else 0
        raise StagingError(_unreachable_staging(staged, f"{found} of {staged.rows} rows found"))


def _unreachable_staging(staged: StagedFile, problem: str) -> str:
    return (
        f"cannot read the rows staged for {staged.source_file} under {staged.directory} "
        f"({' '.join(problem.split())[:300]}): the staging directory must be on storage the "
        "Dask workers and the coordinator share"
    )


def remove_staged_file(staged: StagedFile) -> None:
    """Delete the Parquet a worker staged for one file (once loaded, or abandoned)."""
    if staged.directory is not None:
        shutil.rmtree(staged.directory, ignore_errors=True)


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
