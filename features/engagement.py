"""Per-generation engagement from the clean sums the warehouse aggregates, whole and per cell.

The warehouse sums each generation's clean events per cell, a (viewer half, period) pair (see
`warehouse/sql/label/generation_engagement.sql`): organic counts per event type, watch time, the sums of
capped watch ratios of views and the long views, organic impressions weighted by the examination
propensity of their exposure slot, and the studio counts. Net likes come separately (they need each
viewer's latest like/unlike). A generation's engagement is the sum of its cells.
"""

from __future__ import annotations

import polars as pl

ENGAGEMENT_COLUMNS: tuple[str, ...] = (
    "generation_id",
    "impressions",
    "effective_impressions",
    "views",
    "watch_ms",
    "ratio_sum",
    "ratio_sq_sum",
    "long_views",
    "likes",
    "unlikes",
    "favorites",
    "shares",
    "comments",
    "downloads",
    "dislikes",
    "reports",
    "studio_impressions",
    "selects",
    "regenerates",
)
CELL_KEYS: tuple[str, ...] = ("half", "period")
"""A cell: the viewer half (hash of viewer_id % 2) and the period (0: early in the generation's life, 1: later;
split only for the generations of the diagnostics' temporal sample, every event of the others is in period 0)."""
CELL_COLUMNS: tuple[str, ...] = (
    "generation_id",
    *CELL_KEYS,
    *ENGAGEMENT_COLUMNS[1:],
    "net_likes",
)
"""A cell's likes are net within its period; net_likes count each viewer's latest action over the whole
window in the cell where it happened (their sum is the generation's likes)."""
RATIO_COLUMNS: tuple[str, ...] = ("ratio_sum", "ratio_sq_sum")
"""Engagement columns that are sums of watch ratios."""
FLOAT_COLUMNS: tuple[str, ...] = ("effective_impressions", *RATIO_COLUMNS)
"""Engagement columns that are floats; the other counts are integers."""
COUNT_COLUMNS: tuple[str, ...] = tuple(c for c in ENGAGEMENT_COLUMNS[1:] if c != "likes")
"""Columns summed as they are from cells to a generation (likes come from net_likes)."""


def _typed(frame: pl.DataFrame, columns: tuple[str, ...]) -> pl.DataFrame:
    """`frame` with `columns` in order, counts Int64 and float sums Float64, nulls as zeros."""
    integers = [c for c in columns if c not in ("generation_id", *FLOAT_COLUMNS)]
    return frame.select(columns).with_columns(
        pl.col(integers).fill_null(0).cast(pl.Int64),
        pl.col(FLOAT_COLUMNS).fill_null(0.0).cast(pl.Float64),
    )


def engagement_cells(sums: pl.DataFrame, net_likes: pl.DataFrame) -> pl.DataFrame:
    """One row per (generation, half, period) with events: the cell sums with its likes and net likes,
    sorted by generation_id, half, period."""
    keys = ["generation_id", *CELL_KEYS]
    absent = [c for c in CELL_COLUMNS if c not in sums.columns and c not in ("likes", "net_likes")]
    likes = net_likes.select(*keys, "likes", "net_likes")
    frame = (
        sums.drop("likes", "net_likes", strict=False)
        .with_columns(pl.col(CELL_KEYS).cast(pl.Int32))
        .join(likes.with_columns(pl.col(CELL_KEYS).cast(pl.Int32)), on=keys, how="left")
        .with_columns(pl.lit(None).alias(c) for c in absent)
    )
    return _typed(frame, CELL_COLUMNS).with_columns(pl.col(CELL_KEYS).cast(pl.Int32)).sort(keys)


def generation_engagement(generation_ids: pl.Series, cells: pl.DataFrame) -> pl.DataFrame:
    """One row per generation id (zeros where nothing happened): its cells summed, likes = net likes."""
    summed = cells.group_by("generation_id").agg(
        pl.col(COUNT_COLUMNS).sum(), likes=pl.col("net_likes").sum()
    )
    frame = pl.DataFrame({"generation_id": generation_ids.cast(pl.String)}).join(
        summed, on="generation_id", how="left", maintain_order="left"
    )
    return _typed(frame, ENGAGEMENT_COLUMNS)


def cells_summed(
    cells: pl.DataFrame, keep: pl.Expr, generation_ids: pl.Series, *, whole_window: bool = False
) -> pl.DataFrame:
    """The engagement of the cells where `keep` holds, one row per generation id in the given order
    (zeros where it has none). Likes: each viewer's latest action over the whole window with
    `whole_window` (a viewer half: its cells' net_likes, whatever the period split), else the cells'
    own likes, net within their period (a period: what was known by its end)."""
    likes = pl.col("net_likes" if whole_window else "likes").sum()
    summed = (
        cells.filter(keep).group_by("generation_id").agg(pl.col(COUNT_COLUMNS).sum(), likes=likes)
    )
    frame = pl.DataFrame({"generation_id": generation_ids.cast(pl.String)}).join(
        summed, on="generation_id", how="left", maintain_order="left"
    )
    return _typed(frame, ENGAGEMENT_COLUMNS)
