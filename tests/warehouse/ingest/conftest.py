"""Shared by the ingest tests: an in-memory warehouse per test."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from warehouse.connection import connect


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    """A fresh in-memory warehouse with the schema applied."""
    connection = connect()
    yield connection
    connection.close()
