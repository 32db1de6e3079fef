"""Per-generation engagement from the clean sums the warehouse aggregates.

The warehouse sums each generation's clean events (see `warehouse/sql/label/generation_engagement.sql`): organic
counts per event type, watch time and the sums of capped watch ratios of views, organic impressions weighted by
the examination propensity of their exposure slot, and the studio counts. Net likes come separately (they need
each viewer's latest like/unlike).
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
RATIO_COLUMNS: tuple[str, ...] = ("ratio_sum", "ratio_sq_sum")
"""Engagement columns that are sums of watch ratios."""
FLOAT_COLUMNS: tuple[str, ...] = ("effective_impressions", *RATIO_COLUMNS)
"""Engagement columns that are floats; the other counts are integers."""


def generation_engagement(
    generation_ids: pl.Series, sums: pl.DataFrame, net_likes: pl.DataFrame
) -> pl.DataFrame:
    """One row per generation id (zeros where nothing happened): the clean sums plus net likes.

    A sum `sums` lacks counts as zero.
    """
    absent = [c for c in ENGAGEMENT_COLUMNS if c not in sums.columns and c != "likes"]
    frame = (
        pl.DataFrame({"generation_id": generation_ids.cast(pl.String)})
        .join(sums.drop("likes", strict=False), on="generation_id", how="left")
        .join(net_likes.select("generation_id", "likes"), on="generation_id", how="left")
        .with_columns(pl.lit(None).alias(c) for c in absent)
    )
    integers = [c for c in ENGAGEMENT_COLUMNS if c not in ("generation_id", *FLOAT_COLUMNS)]
    return frame.select(ENGAGEMENT_COLUMNS).with_columns(
        pl.col(integers).fill_null(0).cast(pl.Int64),
        pl.col(FLOAT_COLUMNS).fill_null(0.0).cast(pl.Float64),
    )
