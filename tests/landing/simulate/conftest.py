"""One small simulated landing zone, read back, shared by the simulator's tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from landing.simulate import SimulationConfig, SimulationSummary, simulate_landing_zone

SMALL = SimulationConfig(
    requests=80,
    seed=7,
    days=3,
    event_files_per_day=3,
    generation_files_per_day=2,
    malformed_share=0.03,
    malformed_generation_share=0.25,
    late_generation_share=0.1,
    duplicate_generation_share=0.05,
)


def _parse_timestamp(value: object) -> datetime:
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return datetime.fromtimestamp(int(value) / 1000).astimezone()
    parsed = datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        raise ValueError(f"no UTC offset: {value}")
    return parsed


def _valid_rows(
    rows_by_file: dict[str, list[dict | None]], malformed: pl.DataFrame, kind: str
) -> list[tuple[str, dict]]:
    broken = set(malformed.select("file", "row_number").iter_rows())
    return [
        (path, row)
        for path, rows in rows_by_file.items()
        if path.startswith(f"landing/{kind}/")
        for i, row in enumerate(rows, start=1)
        if (path, i) not in broken
    ]


@pytest.fixture(scope="session")
def small_config() -> SimulationConfig:
    """A small world with plenty of every kind of delivery noise."""
    return SMALL


@pytest.fixture(scope="session")
def parse_timestamp() -> Callable[[object], datetime]:
    """The parser of a wire timestamp: epoch milliseconds or RFC 3339 with an offset (else ValueError)."""
    return _parse_timestamp


@pytest.fixture(scope="session")
def landing(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SimulationSummary]:
    out = tmp_path_factory.mktemp("sim")
    return out, simulate_landing_zone(out, SMALL)


@pytest.fixture(scope="session")
def malformed(landing: tuple[Path, SimulationSummary]) -> pl.DataFrame:
    return pl.read_parquet(landing[0] / "truth" / "malformed.parquet")


@pytest.fixture(scope="session")
def rows_by_file(
    landing: tuple[Path, SimulationSummary], read_rows: Callable[[Path], list[dict | None]]
) -> dict[str, list[dict | None]]:
    out, summary = landing
    return {f.path: read_rows(out / f.path) for f in summary.files}


@pytest.fixture(scope="session")
def valid_events(
    rows_by_file: dict[str, list[dict | None]], malformed: pl.DataFrame
) -> list[tuple[str, dict]]:
    """(file, row) of every event row that is not recorded as malformed."""
    return _valid_rows(rows_by_file, malformed, "events")


@pytest.fixture(scope="session")
def valid_generations(
    rows_by_file: dict[str, list[dict | None]], malformed: pl.DataFrame
) -> list[tuple[str, dict]]:
    """(file, row) of every generation row that is not recorded as malformed."""
    return _valid_rows(rows_by_file, malformed, "generations")
