"""Facts about a warehouse file for `reelloop doctor`, gathered without ever opening the file.

A check must not become the reader that makes a writer wait: the file is only recognised by its
header, the writer lock is probed without waiting, and the figures (schema version, last ingest,
last label) come from the published snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from warehouse.locking import file_opener, lock_holder
from warehouse.snapshot import current_snapshot_path, open_snapshot, snapshot_is_current
from warehouse.sql_files import schema_migration_names, sql_statement

DUCKDB_MAGIC = b"DUCK"
MAGIC_OFFSET = 8


@dataclass(frozen=True)
class SnapshotFacts:
    """What the current snapshot says: its file, schema, publish time, last ingest and label."""

    path: Path
    schema_version: str | None
    published_at: datetime | None
    current: bool
    files_ingested: int
    last_ingested_at: datetime | None
    labels: int
    last_labeled_at: datetime | None


@dataclass(frozen=True)
class WarehouseFacts:
    """The warehouse file, its writer lock and its snapshot (None when none was published)."""

    path: Path
    exists: bool
    is_duckdb: bool
    lock_holder: str | None
    latest_schema: str
    snapshot: SnapshotFacts | None
    snapshot_error: str | None = None
    opened_by: str | None = None
    """a process holding the file open while no reelloop writer holds the lock (writers wait)"""


def is_duckdb_file(path: Path) -> bool:
    """Whether the file starts like a DuckDB database (its header carries the magic `DUCK`)."""
    with open(path, "rb") as handle:
        header = handle.read(MAGIC_OFFSET + len(DUCKDB_MAGIC))
    return header[MAGIC_OFFSET:] == DUCKDB_MAGIC


def snapshot_facts(db_path: Path) -> SnapshotFacts | None:
    """The figures of the current snapshot, or None when nothing was published yet."""
    target = current_snapshot_path(db_path)
    if target is None:
        return None
    con = open_snapshot(db_path)
    try:
        schema, published = con.execute(
            sql_statement("health/snapshot_facts", "snapshot_info")
        ).fetchone()
        last_ingest, files = con.execute(
            sql_statement("health/snapshot_facts", "last_ingest")
        ).fetchone()
        last_label, labels = con.execute(
            sql_statement("health/snapshot_facts", "last_label")
        ).fetchone()
    finally:
        con.close()
    return SnapshotFacts(
        target, schema, published, snapshot_is_current(db_path), files, last_ingest, labels, last_label
    )  # fmt: skip


def warehouse_facts(db_path: str | Path) -> WarehouseFacts:
    """Everything `doctor` reports about the warehouse at `db_path`, read without opening it."""
    path = Path(db_path)
    exists = path.is_file()
    is_duckdb = exists and is_duckdb_file(path)
    latest = schema_migration_names()[-1]
    snapshot, error = None, None
    if is_duckdb:
        try:
            snapshot = snapshot_facts(path)
        except (duckdb.Error, OSError, ValueError) as exc:
            error = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    holder = lock_holder(path) if exists else None
    opened_by = file_opener(path) if is_duckdb and holder is None else None
    return WarehouseFacts(path, exists, is_duckdb, holder, latest, snapshot, error, opened_by)
