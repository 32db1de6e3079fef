"""Simulations never collide: a simulation is replaced only on request, and two seeds' simulations
ingested into one warehouse keep every row of both."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from landing.simulate import SimulationConfig
from pipelines.ingest import ingest
from pipelines.simulate import simulate
from warehouse.resource import Warehouse


def test_simulate_refuses_an_existing_simulation_unless_replacing(tmp_path: Path) -> None:
    simulate(str(tmp_path), SimulationConfig(requests=10, days=1, seed=1))
    truth = tmp_path / "truth" / "generations.parquet"
    before = truth.read_bytes()
    with pytest.raises(FileExistsError, match="already holds a simulation .* --force"):
        simulate(str(tmp_path), SimulationConfig(requests=10, days=1, seed=2))
    assert truth.read_bytes() == before
    simulate(str(tmp_path), SimulationConfig(requests=10, days=1, seed=2), replace=True)
    assert truth.read_bytes() != before


def test_two_seeds_ingested_into_one_warehouse_keep_every_row_of_both(tmp_path: Path) -> None:
    loaded = {}
    for seed in (1, 2):
        out = tmp_path / f"sim{seed}"
        simulate(str(out), SimulationConfig(requests=12, days=1, seed=seed))
        alone = ingest(Warehouse.in_memory(), str(out / "landing"))
        loaded[seed] = alone.by_kind
    warehouse = Warehouse.in_memory()
    both = [ingest(warehouse, str(tmp_path / f"sim{seed}" / "landing")) for seed in (1, 2)]
    for kind in ("events", "generations"):
        for seed, summary in zip((1, 2), both, strict=True):
            assert summary.by_kind[kind].rows_loaded == loaded[seed][kind].rows_loaded > 0
            assert summary.by_kind[kind].rows_duplicate == loaded[seed][kind].rows_duplicate
    with warehouse.writer(publish=False) as con:
        generations = con.execute("select count(*) from generations").fetchone()[0]
    truths = [
        pl.read_parquet(tmp_path / f"sim{seed}" / "truth" / "generations.parquet")
        for seed in (1, 2)
    ]
    assert generations == sum(t.height for t in truths)
    assert not set(truths[0]["request_id"]) & set(truths[1]["request_id"])
