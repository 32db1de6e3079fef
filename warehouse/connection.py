"""Open the warehouse and bring its schema up to date.

DuckDB allows one writing process per file; readers use the published snapshot
(see `warehouse.snapshot`) so analysts never block flows.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from warehouse.sql_files import SQL_ROOT, sql_statement

log = logging.getLogger(__name__)

MEMORY = ":memory:"
READER_WAIT_ENV = "REELLOOP_READER_WAIT_SECONDS"
# DuckDB's error when another process has the file open: it names that process
LOCK_CONFLICT = re.compile(r"Conflicting lock is held in (?P<program>.*?) \(PID (?P<pid>\d+)\)")


def reader_wait_from_env() -> float:
    """Seconds a writer waits for other processes to close the warehouse file (env
    REELLOOP_READER_WAIT_SECONDS, default 600)."""
    text = os.environ.get(READER_WAIT_ENV) or "600"
    try:
        seconds = float(text)
    except ValueError:
        raise ValueError(f"{READER_WAIT_ENV} must be a number of seconds, not {text!r}") from None
    if not seconds >= 0:
        raise ValueError(f"{READER_WAIT_ENV} must be >= 0, not {text!r}")
    return seconds


@dataclass(frozen=True)
class ReaderWait:
    """How a writer waits while another process (an analyst's DuckDB CLI or notebook, even a
    read-only one) holds the warehouse file open: DuckDB lets no writer in meanwhile."""

    timeout_seconds: float = field(default_factory=reader_wait_from_env)
    poll_seconds: float = 0.5
    log_every_seconds: float = 60.0


def open_for_writing(target: str, wait: ReaderWait) -> duckdb.DuckDBPyConnection:
    """Open `target` read-write, waiting while another process holds it (saying who, once a
    minute), then failing with one line naming that process."""
    started = time.monotonic()
    last_said = None
    while True:
        try:
            return duckdb.connect(target)
        except duckdb.IOException as exc:
            holder = LOCK_CONFLICT.search(str(exc))
            if holder is None:
                raise
            waited = time.monotonic() - started
            if waited >= wait.timeout_seconds:
                raise TimeoutError(
                    f"the warehouse {target} is still held open by pid {holder['pid']} "
                    f"({holder['program']}) after {waited:.0f} s: close it, and let analysts "
                    f"query the snapshot instead (`reelloop sql`); {READER_WAIT_ENV} sets the wait"
                ) from None
            if last_said is None or time.monotonic() - last_said >= wait.log_every_seconds:
                log.warning(
                    "waiting for the reader holding the warehouse (pid %s, %s); gives up after %g s",
                    holder["pid"],
                    holder["program"],
                    wait.timeout_seconds,
                )
                last_said = time.monotonic()
            time.sleep(wait.poll_seconds)


def connect(
    path: str | Path = MEMORY, *, read_only: bool = False, wait: ReaderWait | None = None
) -> duckdb.DuckDBPyConnection:
    """A connection in UTC; a writable one has every schema migration applied, and waits while
    another process holds the file open (`wait`, default `ReaderWait()`)."""
    target = str(path)
    if target != MEMORY and not read_only:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    if read_only or target == MEMORY:
        con = duckdb.connect(target, read_only=read_only)
    else:
        con = open_for_writing(target, wait or ReaderWait())
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
