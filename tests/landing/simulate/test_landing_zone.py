"""A simulated landing zone is deterministic, replaces a previous one, and its truth covers every
generation."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from landing.simulate import (
    SimulationConfig,
    SimulationSummary,
    build_event_chunk,
    build_world,
    render_events,
    simulate_landing_zone,
)


def test_same_seed_gives_byte_identical_files_and_another_seed_does_not(tmp_path: Path) -> None:
    config = SimulationConfig(requests=25, seed=3, days=2)
    simulate_landing_zone(tmp_path / "a", config)
    simulate_landing_zone(tmp_path / "b", config)
    simulate_landing_zone(tmp_path / "c", SimulationConfig(requests=25, seed=4, days=2))
    files_a = sorted(
        p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file()
    )
    files_b = sorted(
        p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file()
    )
    assert files_a == files_b and len(files_a) > 8
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    truth = "truth/generations.parquet"
    assert (tmp_path / "a" / truth).read_bytes() != (tmp_path / "c" / truth).read_bytes()


def test_rerun_into_same_directory_replaces_previous_files(tmp_path: Path) -> None:
    simulate_landing_zone(tmp_path, SimulationConfig(requests=20, days=3))
    summary = simulate_landing_zone(tmp_path, SimulationConfig(requests=20, days=2))
    written = {
        p.relative_to(tmp_path).as_posix() for p in (tmp_path / "landing").rglob("*") if p.is_file()
    }
    assert written == {f.path for f in summary.files}


def test_truth_covers_every_generation_with_quality_spread_over_0_1(
    landing: tuple[Path, SimulationSummary], valid_generations: list[tuple[str, dict]]
) -> None:
    out, summary = landing
    truth = pl.read_parquet(out / "truth" / "generations.parquet")
    landed = {row["generation_id"] for _, row in valid_generations}
    assert set(truth.get_column("generation_id")) == landed
    assert truth.height == summary.generations == truth.get_column("generation_id").n_unique()
    quality = truth.get_column("true_quality")
    assert 0 < quality.min() < 0.2 and 0.8 < quality.max() < 1 and quality.std() > 0.15
    viewers = pl.read_parquet(out / "truth" / "viewers.parquet")
    assert viewers.get_column("is_bot").sum() == summary.bots > 0
    assert set(truth.get_column("creator_id")) <= set(viewers.get_column("viewer_id"))


def test_ids_depend_on_the_seed_so_two_simulations_share_none() -> None:
    def ids(seed: int) -> dict[str, set[str]]:
        world = build_world(SimulationConfig(requests=40, seed=seed, days=2))
        events = pl.concat(
            render_events(world, build_event_chunk(world, day, part))
            for day in range(2)
            for part in range(int(world.parts_per_day[day]))
        )
        found = {
            column: set(world.generations.get_column(column))
            for column in ("generation_id", "request_id", "creator_id")
        }
        found["viewer_id"] = set(world.viewers.get_column("viewer_id"))
        return found | {c: set(events.get_column(c)) for c in ("event_id", "session_id")}

    first, second = ids(1), ids(2)
    assert ids(1) == first
    for column, values in first.items():
        assert len(values) >= 5 and not values & second[column], column
