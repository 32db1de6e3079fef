"""Per-generation engagement and exposure slots from the clean event cells the warehouse aggregates.

A cell (see `warehouse/sql/label/generation_cells.sql`) holds the event counts of one generation in one
exposure slot (surface, feed position), one column per event type; views also carry watch time and the sums
of their capped watch ratios. The studio surface gives the studio counts, every other surface the organic ones.
Net likes come separately (they need each viewer's latest like/unlike).
"""

from __future__ import annotations

import polars as pl

ORGANIC_SUMS: tuple[str, ...] = (
    "impressions",
    "views",
    "watch_ms",
    "ratio_sum",
    "ratio_sq_sum",
    "unlikes",
    "favorites",
    "shares",
    "comments",
    "downloads",
    "dislikes",
    "reports",
)
STUDIO_SUMS: dict[str, str] = {
    "impressions": "studio_impressions",
    "selects": "selects",
    "regenerates": "regenerates",
}
STUDIO_SURFACE: str = "studio"
ENGAGEMENT_COLUMNS: tuple[str, ...] = (
    "generation_id",
    "impressions",
    "views",
    "watch_ms",
    "ratio_sum",
    "ratio_sq_sum",
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
SLOT_COLUMNS: tuple[str, ...] = ("generation_id", "surface", "position", "impressions", "views")
RATIO_COLUMNS: tuple[str, ...] = ("ratio_sum", "ratio_sq_sum")
"""Engagement columns that are sums of watch ratios (floats); the other counts are integers."""


def generation_engagement(
    generation_ids: pl.Series, cells: pl.DataFrame, net_likes: pl.DataFrame
) -> pl.DataFrame:
    """One row per generation id (zeros where nothing happened): every count, watch_ms, the watch-ratio sums, net likes."""
    is_studio = pl.col("surface") == STUDIO_SURFACE
    sums = cells.group_by("generation_id").agg(
        *(pl.col(c).filter(~is_studio).sum() for c in ORGANIC_SUMS),
        *(pl.col(c).filter(is_studio).sum().alias(alias) for c, alias in STUDIO_SUMS.items()),
    )
    frame = (
        pl.DataFrame({"generation_id": generation_ids.cast(pl.String)})
        .join(sums, on="generation_id", how="left")
        .join(net_likes.select("generation_id", "likes"), on="generation_id", how="left")
    )
    integers = [c for c in ENGAGEMENT_COLUMNS if c not in ("generation_id", *RATIO_COLUMNS)]
    return frame.select(ENGAGEMENT_COLUMNS).with_columns(
        pl.col(integers).fill_null(0).cast(pl.Int64),
        pl.col(RATIO_COLUMNS).fill_null(0.0).cast(pl.Float64),
    )


def exposure_slots(cells: pl.DataFrame) -> pl.DataFrame:
    """Organic impressions and views per (generation_id, surface, position)."""
    return cells.filter(
        (pl.col("surface") != STUDIO_SURFACE)
        & ((pl.col("impressions") > 0) | (pl.col("views") > 0))
    ).select(
        "generation_id",
        "surface",
        pl.col("position").cast(pl.Int32),
        pl.col("impressions").cast(pl.Int64),
        pl.col("views").cast(pl.Int64),
    )
