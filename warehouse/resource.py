"""The warehouse resource every stage is given: connections under the writer lock, transactions,
queries of one SQL relation, and the read-only snapshot analysts use.

Stages take a `Warehouse` instead of opening a path (Dagster's resources are the model): tests
pass an in-memory one, the flows one whose writers also take a Prefect limit (`outer_lock`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from warehouse.connection import MEMORY, apply_migrations, connect, transaction
from warehouse.locking import OuterLock, WriterLockConfig, warehouse_writer
from warehouse.snapshot import (
    PublishedSnapshot,
    SnapshotConfig,
    open_snapshot,
    publish_snapshot,
    snapshot_is_current,
)
from warehouse.sql_files import sql_text

if TYPE_CHECKING:  # polars loads only when a query returns a frame (not for `sql` or an empty run)
    import polars as pl

QueryParameters = Sequence[Any] | Mapping[str, Any] | None


@dataclass(frozen=True)
class Warehouse:
    """The DuckDB warehouse file; a connection is opened per use and closed after.

    An in-memory warehouse (`Warehouse.in_memory()`) keeps one connection for its lifetime, so
    what one stage writes the next one reads; it needs no lock and publishes no snapshot.
    """

    path: str
    lock_config: WriterLockConfig = field(default_factory=WriterLockConfig)
    snapshot_config: SnapshotConfig = field(default_factory=SnapshotConfig)
    outer_lock: OuterLock | None = None
    _memory: list[duckdb.DuckDBPyConnection] = field(
        default_factory=list, compare=False, repr=False
    )

    @classmethod
    def at(cls, path: str | Path, *, outer_lock: OuterLock | None = None) -> Warehouse:
        """The warehouse file at `path`."""
        return cls(str(path), outer_lock=outer_lock)

    @classmethod
    def in_memory(cls, con: duckdb.DuckDBPyConnection | None = None) -> Warehouse:
        """A private in-memory warehouse (tests, notebooks), on `con` when given (migrated)."""
        warehouse = cls(MEMORY)
        if con is not None:
            apply_migrations(con)
            warehouse._memory.append(con)
        return warehouse

    @property
    def is_memory(self) -> bool:
        return self.path == MEMORY

    @contextmanager
    def connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A migrated read-write connection, closed on exit (no lock: prefer `writer()`)."""
        if self.is_memory:
            if not self._memory:
                self._memory.append(connect(MEMORY))
            yield self._memory[0]
            return
        con = connect(self.path)
        try:
            yield con
        finally:
            con.close()

    @contextmanager
    def writer(
        self, *, publish: bool = True, timeout_seconds: float | None = None
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """Take the writer lock, yield a read-write connection, publish the snapshot on success.

        A second run waits for the lock (logging "waiting for writer lock") instead of
        failing. Nested in another `writer()` of this process, the outermost one
        publishes; `publish=False` skips publishing for intermediate writes.
        """
        if self.is_memory:
            with self.connection() as con:
                yield con
            return
        with (
            warehouse_writer(
                self.path,
                timeout_seconds=timeout_seconds,
                config=self.lock_config,
                outer_lock=self.outer_lock,
            ) as lease,
            self.connection() as con,
        ):
            yield con
            if publish:
                lease.request_publish()
            if lease.outermost and lease.publish_requested:
                publish_snapshot(con, self.path, config=self.snapshot_config)

    @contextmanager
    def transaction(self, *, publish: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A writer connection inside one transaction: all of the block's writes land, or none."""
        with self.writer(publish=publish) as con, transaction(con):
            yield con

    def query(self, name: str, parameters: QueryParameters = None) -> pl.DataFrame:
        """The rows of the SQL relation `warehouse/sql/<name>.sql`, read under the writer lock."""
        with self.writer(publish=False) as con:
            return con.execute(sql_text(name), parameters).pl()

    def publish(self, *, timeout_seconds: float | None = None) -> PublishedSnapshot:
        """Publish a snapshot of the warehouse now, under the writer lock."""
        with self.lock(timeout_seconds):
            return publish_snapshot(self.path, config=self.snapshot_config)

    def publish_if_stale(self, *, timeout_seconds: float | None = None) -> PublishedSnapshot | None:
        """Publish only if something committed since the current snapshot was taken (or none exists).

        A run killed between its commit and its publish leaves the snapshot behind the warehouse;
        a rerun with nothing new to do calls this so analysts still see the committed rows.
        """
        if self.is_memory or not Path(self.path).is_file():
            return None
        with self.lock(timeout_seconds):
            if snapshot_is_current(self.path):
                return None
            return publish_snapshot(self.path, config=self.snapshot_config)

    @contextmanager
    def snapshot(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection to the latest published snapshot (never blocks a writer)."""
        con = open_snapshot(self.path)
        try:
            yield con
        finally:
            con.close()

    @contextmanager
    def lock(self, timeout_seconds: float | None = None) -> Iterator[None]:
        """Hold the writer lock (for work that opens the file itself, e.g. a rewrite)."""
        with warehouse_writer(
            self.path,
            timeout_seconds=timeout_seconds,
            config=self.lock_config,
            outer_lock=self.outer_lock,
        ):
            yield
