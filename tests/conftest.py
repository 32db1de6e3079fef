"""Shared fixtures: one Prefect test harness per session (it takes ~12 s to start), one simulated
and ingested world per run (~10 s to build; tests work on copies of its warehouse), a scratch
warehouse per fuzz module."""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
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


@dataclass(frozen=True)
class IngestedWorld:
    """A simulation (landing zone and truth) and the warehouse it was ingested into. Shared by the
    whole run: read its files, never write them; a test that writes takes `warehouse_copy`."""

    sim: Path
    db: Path

    @property
    def truth(self) -> Path:
        return self.sim / "truth" / "generations.parquet"

    def warehouse_copy(self, folder: Path) -> Path:
        """The warehouse file copied into the new `folder`, with its snapshot folder (mtimes kept,
        so the copy's snapshot is current); returns the copy's path."""
        shutil.copytree(self.db.parent, folder)
        return folder / self.db.name


@pytest.fixture(scope="session")
def ingested_world(tmp_path_factory: pytest.TempPathFactory) -> IngestedWorld:
    """`reelloop simulate --requests 300 --seed 0` ingested with `reelloop ingest`, in this process
    without Prefect; tests that label, train or score it take a `warehouse_copy`. Built once per
    run: under pytest-xdist the first worker to need it builds it in the run's temporary folder
    (above each worker's own) while the others wait on the lock, then all read the same files."""
    from cli.main import main

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    world = IngestedWorld(
        root / "ingested_world" / "sim", root / "ingested_world" / "wh" / "reelloop.duckdb"
    )
    built = root / "ingested_world" / "built"
    with (root / "ingested_world.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not built.exists():
            for argv in (
                ["simulate", "--out", str(world.sim), "--requests", "300", "--seed", "0"],
                ["ingest", str(world.sim / "landing")],
            ):
                assert main(["--db", str(world.db), "--no-prefect", *argv]) == 0, argv
            built.touch()
    return world


@pytest.fixture(scope="module")
def fuzz_warehouse() -> Iterator[tuple[duckdb.DuckDBPyConnection, Path]]:
    """One in-memory warehouse and folder for all of a module's examples (a fresh one costs ~75 ms)."""
    from warehouse.connection import connect

    con = connect()
    with tempfile.TemporaryDirectory() as folder:
        yield con, Path(folder)
    con.close()
