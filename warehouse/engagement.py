"""Event-level aggregation for labels, set-at-a-time in DuckDB (SQL in `sql/label/`), returned as polars frames.

The relations read `label_touched_generations` (generation ids to re-aggregate),
`label_reclassified_viewers` (viewer ids) and `label_adopted_examination` (the examination curve), which
`register` exposes; `label_abnormal_viewers` is a table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import duckdb
import polars as pl

from warehouse.sql_files import sql_statement, sql_text

FIXED_POINT: int = 2**32
"""Float sums are summed as integers in units of 1 / FIXED_POINT (order-independent, so deterministic)."""

TOUCHED_RELATION: str = "label_touched_generations"
RECLASSIFIED_RELATION: str = "label_reclassified_viewers"
NEW_VIEWER_ACTIVITY_RELATION: str = "label_new_viewer_activity"
EXAMINATION_RELATION: str = "label_adopted_examination"


@dataclass(frozen=True)
class EngagementRules:
    """How events are summed per generation cell (see `sql/label/generation_engagement.sql`)."""

    max_position: int
    ratio_cap: float
    long_view_ms: int
    min_known_duration_ms: int
    period_split_ms: int

    def parameters(self) -> dict[str, object]:
        """The SQL parameters of these rules."""
        return {
            "max_position": self.max_position,
            "ratio_cap": float(self.ratio_cap),
            "long_view_ms": self.long_view_ms,
            "min_known_duration_ms": self.min_known_duration_ms,
            "period_split_ms": self.period_split_ms,
            "fixed_point": FIXED_POINT,
        }


@dataclass(frozen=True)
class IngestMark:
    """How far ingestion has gone: newest ingested_at and row counts of events and generations."""

    events_through: datetime | None
    events_count: int
    generations_through: datetime | None
    generations_count: int


def query(
    con: duckdb.DuckDBPyConnection, name: str, params: dict[str, object] | None = None
) -> pl.DataFrame:
    """The relation of `sql/<name>.sql` as a polars frame."""
    return con.sql(sql_text(name), params=params or None).pl()


def run_statement(
    con: duckdb.DuckDBPyConnection,
    operation: str,
    block: str,
    params: dict[str, object] | None = None,
) -> int:
    """Execute the statement `block` of the operation file `sql/<operation>.sql` to completion;
    returns the rows it changed (0 if it reports none)."""
    rows = con.execute(sql_statement(operation, block), params or None).fetchall()
    return int(rows[0][0]) if rows and rows[0] and isinstance(rows[0][0], int) else 0


def ingest_mark(con: duckdb.DuckDBPyConnection) -> IngestMark:
    """The current ingestion watermark of the warehouse."""
    row = query(con, "label/events_watermark").row(0, named=True)
    return IngestMark(
        events_through=row["events_through"],
        events_count=int(row["events_count"]),
        generations_through=row["generations_through"],
        generations_count=int(row["generations_count"]),
    )


def events_ingested_between(
    con: duckdb.DuckDBPyConnection, since: datetime | None, through: datetime | None
) -> int:
    """Events ingested in (since, through]."""
    params = {"since": since, "through": through}
    return int(query(con, "label/events_ingested_between", params)["events"][0])


def generations_ingested_between(
    con: duckdb.DuckDBPyConnection, since: datetime | None, through: datetime | None
) -> int:
    """Generation records ingested in (since, through]."""
    params = {"since": since, "through": through}
    return int(query(con, "label/generations_ingested_between", params)["generations"][0])


def new_viewer_activity(
    con: duckdb.DuckDBPyConnection,
    since: datetime | None,
    through: datetime | None,
    position_bands: int,
) -> pl.DataFrame:
    """Counts (viewer_id, position_band, events, impressions, views, likes) of the events ingested in
    (since, through], per viewer and feed position band (`position_bands` log2 bands, -1 off the feed)."""
    params = {"since": since, "through": through, "last_position_band": position_bands - 1}
    return query(con, "label/new_viewer_activity", params)


def merged_viewer_activity(
    con: duckdb.DuckDBPyConnection, new_counts: pl.DataFrame
) -> pl.DataFrame:
    """Stored plus new counts of the viewers in `new_counts`."""
    register(con, NEW_VIEWER_ACTIVITY_RELATION, new_counts)
    return query(con, "label/merged_viewer_activity")


def viewer_activity(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Running counts per viewer and position band: viewer_id, position_band, events, impressions,
    views, likes."""
    return query(con, "label/viewer_activity")


def register(con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame) -> None:
    """Expose a frame to the SQL files under one of the relation names they read."""
    if name not in (
        TOUCHED_RELATION,
        RECLASSIFIED_RELATION,
        NEW_VIEWER_ACTIVITY_RELATION,
        EXAMINATION_RELATION,
    ):
        raise ValueError(f"not a relation the label SQL reads: {name}")
    con.register(name, frame.to_arrow())


def known_generations(con: duckdb.DuckDBPyConnection, through: IngestMark) -> pl.DataFrame:
    """Every generation (generation_id) whose record was ingested by `through`."""
    return query(
        con, "label/known_generations", {"generations_through": through.generations_through}
    )


def touched_generations(
    con: duckdb.DuckDBPyConnection,
    since: IngestMark | None,
    through: IngestMark,
    reclassified_viewers: pl.DataFrame,
) -> pl.DataFrame:
    """Known generations (generation_id) with events or records ingested after `since`, or seen by a reclassified viewer.

    With `since` None every known generation is touched (a full rebuild).
    """
    if since is None:
        return known_generations(con, through)
    register(
        con, RECLASSIFIED_RELATION, reclassified_viewers.select(pl.col("viewer_id").cast(pl.String))
    )
    params = {
        "since": since.events_through,
        "through": through.events_through,
        "generations_since": since.generations_through,
        "generations_through": through.generations_through,
    }
    return query(con, "label/touched_generations", params)


def touched_slots(
    con: duckdb.DuckDBPyConnection,
    touched: pl.DataFrame,
    through: IngestMark,
    *,
    max_position: int,
    sample_buckets: int,
) -> pl.DataFrame:
    """Organic impressions and views per exposure slot of the touched generations in the examination sample."""
    register(con, TOUCHED_RELATION, touched.select(pl.col("generation_id").cast(pl.String)))
    params = {
        "through": through.events_through,
        "max_position": max_position,
        "sample_buckets": sample_buckets,
    }
    return query(con, "label/sample_slots", params)


def touched_engagement(
    con: duckdb.DuckDBPyConnection,
    touched: pl.DataFrame,
    examination: pl.DataFrame,
    through: IngestMark,
    rules: EngagementRules,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(clean sums, net likes) per (generation, viewer half, period) cell of the touched generations
    (generation_id, temporal_sample: whether its events are split by period too), impressions weighted
    by the `examination` curve (surface, position, propensity)."""
    register(
        con,
        TOUCHED_RELATION,
        touched.select(
            pl.col("generation_id").cast(pl.String), pl.col("temporal_sample").cast(pl.Boolean)
        ),
    )
    register(
        con,
        EXAMINATION_RELATION,
        examination.select(
            pl.col("surface").cast(pl.String),
            pl.col("position").cast(pl.Int32),
            pl.col("propensity").cast(pl.Float64),
        ),
    )
    at = {"through": through.events_through}
    sums = query(con, "label/generation_engagement", {**at, **rules.parameters()})
    likes = query(con, "label/net_likes", {**at, "period_split_ms": rules.period_split_ms})
    return sums, likes


def naive_rates(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Raw like and view rates per impression of every known generation (the baselines of evaluation)."""
    return query(con, "label/naive_rates")


class EventAggregation(Protocol):
    """Where the event-level passes of a label run execute: on the warehouse, or partition by partition on workers."""

    def viewer_activity(
        self, since: datetime | None, through: IngestMark, position_bands: int
    ) -> pl.DataFrame:
        """Counts per viewer and position band of the events ingested in (since, through]."""
        ...

    def slots(
        self,
        touched: pl.DataFrame,
        abnormal_viewers: pl.DataFrame,
        through: IngestMark,
        *,
        max_position: int,
        sample_buckets: int,
    ) -> pl.DataFrame:
        """Exposure slots of the touched generations in the examination sample, without the abnormal viewers."""
        ...

    def engagement(
        self,
        touched: pl.DataFrame,
        abnormal_viewers: pl.DataFrame,
        examination: pl.DataFrame,
        through: IngestMark,
        rules: EngagementRules,
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """(clean sums, net likes) per cell of the touched generations (generation_id, temporal_sample:
        also split by period) without the abnormal viewers."""
        ...


@dataclass(frozen=True)
class WarehouseAggregation:
    """The passes run as SQL on the open warehouse (its `label_abnormal_viewers` table is the excluded set)."""

    con: duckdb.DuckDBPyConnection

    def viewer_activity(
        self, since: datetime | None, through: IngestMark, position_bands: int
    ) -> pl.DataFrame:
        """Counts per viewer and position band of the events ingested in (since, through]."""
        return new_viewer_activity(self.con, since, through.events_through, position_bands)

    def slots(
        self,
        touched: pl.DataFrame,
        abnormal_viewers: pl.DataFrame,
        through: IngestMark,
        *,
        max_position: int,
        sample_buckets: int,
    ) -> pl.DataFrame:
        """Sampled exposure slots of the touched generations (abnormal viewers: the stored table)."""
        # the caller stored them in label_abnormal_viewers, which the SQL reads
        del abnormal_viewers
        return touched_slots(
            self.con, touched, through, max_position=max_position, sample_buckets=sample_buckets
        )

    def engagement(
        self,
        touched: pl.DataFrame,
        abnormal_viewers: pl.DataFrame,
        examination: pl.DataFrame,
        through: IngestMark,
        rules: EngagementRules,
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """(clean sums, net likes) per cell of the touched generations (abnormal viewers: the stored table)."""
        # the caller stored them in label_abnormal_viewers, which the SQL reads
        del abnormal_viewers
        return touched_engagement(self.con, touched, examination, through, rules)
