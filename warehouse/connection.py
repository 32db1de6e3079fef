"""Open the warehouse and bring its schema up to date.

DuckDB allows one writing process per file; readers use the published snapshot
(see `warehouse.snapshot`) so analysts never block flows.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from warehouse.sql_files import SQL_ROOT, sql_statement

log = logging.getLogger(__name__)

MEMORY = ":memory:"


def connect(path: str | Path = MEMORY, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection in UTC; a writable one has every schema migration applied."""
    target = str(path)
    if target != MEMORY and not read_only:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(target, read_only=read_only)
    use_utc(con)
    if not read_only:
        apply_migrations(con)
    return con


def use_utc(con: duckdb.DuckDBPyConnection) -> None:
    """Read and show timestamps in UTC, as every warehouse connection does."""
    con.execute("set TimeZone = 'UTC'").fetchall()


def apply_migrations(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply the schema files not yet recorded in `schema_migrations`; returns those applied."""
    con.execute(sql_statement("schema_migrations", "create_table"))
    applied_names = sql_statement("schema_migrations", "applied_names")
    done = {row[0] for row in con.execute(applied_names).fetchall()}
    applied = []
    for name, text in schema_migrations():
        if name in done:
            continue
        with transaction(con):
            con.execute(text)
            con.execute(sql_statement("schema_migrations", "record_applied"), {"name": name})
        applied.append(name)
        log.info("applied schema migration %s", name)
    return applied


def schema_migrations() -> list[tuple[str, str]]:
    """(name, SQL) of each migration file of `sql/schema/`, in the order they apply (numeric prefix).

    The files are found by listing the folder: every one of them applies, so no caller names one.
    """
    files = [path for path in (SQL_ROOT / "schema").iterdir() if path.name.endswith(".sql")]
    return [
        (path.name.removesuffix(".sql"), path.read_text(encoding="utf-8"))
        for path in sorted(files, key=lambda path: path.name)
    ]


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Run the block in one transaction: all of its writes land, or none."""
    con.execute("begin transaction").fetchall()
    try:
        yield con
    except BaseException:
        con.execute("rollback").fetchall()
        raise
    con.execute("commit").fetchall()


def schema_version(con: duckdb.DuckDBPyConnection) -> str | None:
    """Name of the newest applied migration (the schema version), or None on an empty database."""
    row = con.execute(sql_statement("schema_migrations", "schema_version")).fetchone()
    return row[0] if row else None
