"""Per-generation engagement and exposure slots from the clean event cells the warehouse aggregates.

A cell (see `warehouse/sql/label/generation_cells.sql`) counts the events of one generation by event type,
studio or organic, and exposure slot (surface, feed position); views also carry watch time and the sums of
their capped watch ratios. Net likes come separately (they need each viewer's latest like/unlike).
"""

from __future__ import annotations

import polars as pl

ORGANIC_COUNTS: dict[str, str] = {
    "impression": "impressions",
    "view": "views",
    "unlike": "unlikes",
    "favorite": "favorites",
    "share": "shares",
    "comment": "comments",
    "download": "downloads",
    "dislike": "dislikes",
    "report": "reports",
}
STUDIO_COUNTS: dict[str, str] = {
    "impression": "studio_impressions",
    "select": "selects",
    "regenerate": "regenerates",
}
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


def generation_engagement(
    generation_ids: pl.Series, cells: pl.DataFrame, net_likes: pl.DataFrame
) -> pl.DataFrame:
    """One row per generation id (zeros where nothing happened): every count, watch_ms, the watch-ratio sums, net likes."""
    columns = pl.DataFrame(
        [
            *(
                {"event_type": k, "is_studio": False, "column": v}
                for k, v in ORGANIC_COUNTS.items()
            ),
            *({"event_type": k, "is_studio": True, "column": v} for k, v in STUDIO_COUNTS.items()),
        ]
    )
    counts = (
        cells.join(columns, on=["event_type", "is_studio"])
        .group_by("generation_id", "column")
        .agg(pl.col("events").sum())
    )
    wide = counts.pivot(on="column", index="generation_id", values="events")
    views = (
        cells.filter(~pl.col("is_studio") & (pl.col("event_type") == "view"))
        .group_by("generation_id")
        .agg(pl.col("watch_ms").sum(), pl.col("ratio_sum").sum(), pl.col("ratio_sq_sum").sum())
    )
    frame = (
        pl.DataFrame({"generation_id": generation_ids.cast(pl.String)})
        .join(wide, on="generation_id", how="left")
        .join(views, on="generation_id", how="left")
        .join(net_likes.select("generation_id", "likes"), on="generation_id", how="left")
    )
    missing = [c for c in ENGAGEMENT_COLUMNS if c not in frame.columns]
    frame = frame.with_columns(pl.lit(0).alias(c) for c in missing)
    integers = [
        c for c in ENGAGEMENT_COLUMNS if c not in ("generation_id", "ratio_sum", "ratio_sq_sum")
    ]
    return frame.select(ENGAGEMENT_COLUMNS).with_columns(
        pl.col(integers).fill_null(0).cast(pl.Int64),
        pl.col("ratio_sum", "ratio_sq_sum").fill_null(0.0).cast(pl.Float64),
    )


def exposure_slots(cells: pl.DataFrame) -> pl.DataFrame:
    """Organic impressions and views per (generation_id, surface, position)."""
    organic = cells.filter(~pl.col("is_studio"))
    keys = ["generation_id", "surface", "position"]
    impressions = organic.filter(pl.col("event_type") == "impression").select(
        *keys, impressions="events"
    )
    views = organic.filter(pl.col("event_type") == "view").select(*keys, views="events")
    return impressions.join(views, on=keys, how="full", coalesce=True).select(
        "generation_id",
        "surface",
        pl.col("position").cast(pl.Int32),
        pl.col("impressions").fill_null(0).cast(pl.Int64),
        pl.col("views").fill_null(0).cast(pl.Int64),
    )
