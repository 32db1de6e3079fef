"""Resources the flows use, behind small interfaces so tests can swap them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from warehouse.connection import connect


@dataclass(frozen=True)
class Warehouse:
    """The DuckDB warehouse file; a connection is opened per task and closed after."""

    path: str

    @contextmanager
    def connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A migrated read-write connection, closed on exit."""
        con = connect(self.path)
        try:
            yield con
        finally:
            con.close()

    @classmethod
    def at(cls, path: str | Path) -> Warehouse:
        return cls(str(path))
