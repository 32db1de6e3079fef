"""Label aggregation split by a hash of generation_id, for the workers of a cluster.

The coordinator, the only process that opens the warehouse, writes the events and generation
records label aggregation reads as Parquet partitions (`partition=N`: hash(generation_id) modulo
the partition count, so all rows of one generation share a partition). A worker opens its
partition in an in-memory DuckDB under the relation names the label SQL reads (`events`,
`generations`, `label_abnormal_viewers`) and runs the very same SQL files as a local run; the
coordinator combines the partial results: per-viewer counts add up, the exposure slots and
engagement sums of different partitions never overlap.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl

from warehouse import engagement
from warehouse.connection import use_utc
from warehouse.engagement import EngagementRules, IngestMark, query, register
from warehouse.sql_files import sql_text

PARTITION_COLUMN: str = "partition"
VIEWER_KEY: tuple[str, ...] = ("viewer_id", "position_band")
VIEWER_COUNT_COLUMNS: tuple[str, ...] = ("events", "impressions", "views", "likes")


@dataclass(frozen=True)
class EventPartition:
    """One partition's Parquet directories: its events and its generation records."""

    number: int
    events: str
    generations: str


def export_partitions(
    con: duckdb.DuckDBPyConnection,
    directory: str | Path,
    partitions: int,
    *,
    since: datetime | None,
    through: IngestMark,
    touched: pl.DataFrame | None = None,
) -> list[EventPartition]:
    """Write events and generation records as hash partitions under `directory` (replaced); the partitions with events.

    Events ingested in (since, through], or with `touched` (generation_id) every event of those
    generations ingested by `through`. Generation records: all those ingested by `through`.
    """
    if partitions < 1:
        raise ValueError(f"partitions must be at least 1, got {partitions}")
    root = Path(directory)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    touched_ids = touched if touched is not None else pl.DataFrame({"generation_id": []})
    register(
        con,
        engagement.TOUCHED_RELATION,
        touched_ids.select(pl.col("generation_id").cast(pl.String)),
    )
    params = {
        "since": since,
        "through": through.events_through,
        "touched_only": touched is not None,
        "partitions": partitions,
    }
    con.sql(sql_text("label/partition_events"), params=params).write_parquet(
        str(root / "events"), partition_by=[PARTITION_COLUMN]
    )
    con.sql(
        sql_text("label/partition_generations"),
        params={"generations_through": through.generations_through, "partitions": partitions},
    ).write_parquet(str(root / "generations"), partition_by=[PARTITION_COLUMN])
    found = []
    for number in range(partitions):
        events_dir = root / "events" / f"{PARTITION_COLUMN}={number}"
        if events_dir.is_dir():
            found.append(
                EventPartition(
                    number=number,
                    events=str(events_dir),
                    generations=str(root / "generations" / f"{PARTITION_COLUMN}={number}"),
                )
            )
    return found


@contextmanager
def partition_connection(
    partition: EventPartition, abnormal_viewers: pl.DataFrame | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB exposing the partition as `events` and `generations` (and the excluded viewers)."""
    con = duckdb.connect()
    try:
        use_utc(con)
        con.register("events", con.read_parquet(f"{partition.events}/*.parquet"))
        generations = Path(partition.generations)
        if generations.is_dir():
            con.register("generations", con.read_parquet(f"{generations}/*.parquet"))
        else:  # events of generations whose records have not arrived yet
            con.register("generations", con.sql(sql_text("label/no_generations")))
        viewers = (
            abnormal_viewers.select(pl.col("viewer_id").cast(pl.String))
            if abnormal_viewers is not None
            else pl.DataFrame({"viewer_id": []}, schema={"viewer_id": pl.String})
        )
        con.register("label_abnormal_viewers", viewers.to_arrow())
        yield con
    finally:
        con.close()


def partition_viewer_activity(
    partition: EventPartition, since: datetime | None, through: datetime | None, position_bands: int
) -> pl.DataFrame:
    """(worker) Counts per viewer and position band of the partition's events ingested in (since, through]."""
    with partition_connection(partition) as con:
        return engagement.new_viewer_activity(con, since, through, position_bands)


def partition_slots(
    partition: EventPartition,
    abnormal_viewers: pl.DataFrame,
    through: IngestMark,
    *,
    max_position: int,
    sample_buckets: int,
) -> pl.DataFrame:
    """(worker) Exposure slots of the partition's generations in the examination sample."""
    with partition_connection(partition, abnormal_viewers) as con:
        generations = query(con, "label/partition_generation_ids")
        return engagement.touched_slots(
            con, generations, through, max_position=max_position, sample_buckets=sample_buckets
        )


def partition_engagement(
    partition: EventPartition,
    abnormal_viewers: pl.DataFrame,
    examination: pl.DataFrame,
    through: IngestMark,
    rules: EngagementRules,
    temporal_sample: pl.DataFrame,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(worker) Clean sums and net likes per cell of every generation in the partition; those in
    `temporal_sample` (generation_id) are also split by period."""
    with partition_connection(partition, abnormal_viewers) as con:
        generations = query(con, "label/partition_generation_ids").with_columns(
            temporal_sample=pl.col("generation_id").is_in(
                temporal_sample["generation_id"].cast(pl.String).implode()
            )
        )
        return engagement.touched_engagement(con, generations, examination, through, rules)


def combined_viewer_activity(parts: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """Counts per viewer and position band summed over partitions (a viewer's events spread over many)."""
    frames = [p for p in parts if not p.is_empty()]
    if not frames:
        return parts[0] if parts else _empty_viewer_counts()
    return (
        pl.concat([f.select(*VIEWER_KEY, *VIEWER_COUNT_COLUMNS) for f in frames])
        .group_by(*VIEWER_KEY)
        .agg(pl.col(c).sum().cast(pl.Int64) for c in VIEWER_COUNT_COLUMNS)
        .sort(*VIEWER_KEY)
    )


def combined_engagement(
    parts: Sequence[tuple[pl.DataFrame, pl.DataFrame]],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Clean sums and net likes of all partitions (their generations are disjoint)."""
    if not parts:
        raise ValueError("no partition results to combine")
    return (
        pl.concat([sums for sums, _ in parts], how="vertical_relaxed"),
        pl.concat([likes for _, likes in parts], how="vertical_relaxed"),
    )


def _empty_viewer_counts() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "viewer_id": pl.String,
            "position_band": pl.Int32,
            **{c: pl.Int64 for c in VIEWER_COUNT_COLUMNS},
        }
    )
