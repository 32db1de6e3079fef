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

from warehouse.sql_files import schema_migration_names, sql_text

log = logging.getLogger(__name__)

MEMORY = ":memory:"


def connect(path: str | Path = MEMORY, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection in UTC; a writable one has every schema migration applied."""
    target = str(path)
    if target != MEMORY and not read_only:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(target, read_only=read_only)
    con.execute("set TimeZone = 'UTC'")
    if not read_only:
        apply_migrations(con)
    return con


def apply_migrations(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply the schema files not yet recorded in `schema_migrations`; returns those applied."""
    con.execute(sql_text("schema_migrations"))
    done = {row[0] for row in con.execute("select name from schema_migrations").fetchall()}
    applied = []
    for name in schema_migration_names():
        if name in done:
            continue
        with transaction(con):
            con.execute(sql_text(f"schema/{name}"))
            con.execute(
                "insert into schema_migrations (name, applied_at) values (?, current_timestamp)",
                [name],
            )
        applied.append(name)
        log.info("applied schema migration %s", name)
    return applied


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
    row = con.execute("select max(name) from schema_migrations").fetchone()
    return row[0] if row else None
