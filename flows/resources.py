"""Resources the flows use, behind small interfaces so tests can swap them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from flows.locking import WriterLockConfig, warehouse_writer
from warehouse.connection import MEMORY, connect
from warehouse.snapshot import (
    PublishedSnapshot,
    SnapshotConfig,
    open_snapshot,
    publish_snapshot,
    snapshot_is_current,
)


@dataclass(frozen=True)
class Warehouse:
    """The DuckDB warehouse file; a connection is opened per task and closed after."""

    path: str

    @contextmanager
    def connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A migrated read-write connection, closed on exit (no lock: prefer `writer()` in flows)."""
        con = connect(self.path)
        try:
            yield con
        finally:
            con.close()

    @contextmanager
    def writer(
        self,
        *,
        publish: bool = True,
        timeout_seconds: float | None = None,
        lock_config: WriterLockConfig | None = None,
        snapshot_config: SnapshotConfig | None = None,
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """Take the writer lock, yield a read-write connection, publish the snapshot on success.

        A second run waits for the lock (logging "waiting for writer lock") instead of
        failing. Nested in another `writer()` of this process, the outermost one
        publishes; `publish=False` skips publishing for intermediate writes.
        """
        if self.path == MEMORY:
            with self.connection() as con:
                yield con
            return
        with warehouse_writer(
            self.path, timeout_seconds=timeout_seconds, config=lock_config
        ) as lease:
            con = connect(self.path)
            try:
                yield con
                if publish:
                    lease.request_publish()
                if lease.outermost and lease.publish_requested:
                    publish_snapshot(con, self.path, config=snapshot_config)
            finally:
                con.close()

    def publish(
        self,
        *,
        timeout_seconds: float | None = None,
        snapshot_config: SnapshotConfig | None = None,
    ) -> PublishedSnapshot:
        """Publish a snapshot of the warehouse now, under the writer lock."""
        with warehouse_writer(self.path, timeout_seconds=timeout_seconds):
            return publish_snapshot(self.path, config=snapshot_config)

    def publish_if_stale(
        self,
        *,
        timeout_seconds: float | None = None,
        snapshot_config: SnapshotConfig | None = None,
    ) -> PublishedSnapshot | None:
        """Publish only if something committed since the current snapshot was taken (or none exists).

        A run killed between its commit and its publish leaves the snapshot behind the warehouse;
        a rerun with nothing new to do calls this so analysts still see the committed rows.
        """
        if self.path == MEMORY or not Path(self.path).is_file():
            return None
        with warehouse_writer(self.path, timeout_seconds=timeout_seconds):
            if snapshot_is_current(self.path):
                return None
            return publish_snapshot(self.path, config=snapshot_config)

    @contextmanager
    def snapshot(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection to the latest published snapshot (never blocks a writer)."""
        con = open_snapshot(self.path)
        try:
            yield con
        finally:
            con.close()

    @classmethod
    def at(cls, path: str | Path) -> Warehouse:
        return cls(str(path))
