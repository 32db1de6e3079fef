"""Shared fixtures: one Prefect test harness per session (it takes ~12 s to start), a scratch warehouse per fuzz module."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """A throwaway Prefect API for tests that run flows; start it once per session."""
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="module")
def fuzz_warehouse() -> Iterator[tuple[duckdb.DuckDBPyConnection, Path]]:
    """One in-memory warehouse and folder for all of a module's examples (a fresh one costs ~75 ms)."""
    from warehouse.connection import connect

    con = connect()
    with tempfile.TemporaryDirectory() as folder:
        yield con, Path(folder)
    con.close()
