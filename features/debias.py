"""Corrections of raw engagement: abnormal viewers, feed-position (examination) bias, duration bias.

All estimated from the data: the examination curve from views per impression by feed slot, the
duration correction as the per-view quantile of the watch ratio among views of videos of similar
duration (Kuaishou's D2Q), the abnormal-viewer thresholds relative to the viewer population.
"""

from __future__ import annotations

import numpy as np
import polars as pl

ROBUST_SD_PER_MAD: float = 1.4826
"""MAD * 1.4826 estimates the standard deviation of a normal distribution."""


def abnormal_viewers(
    activity: pl.DataFrame,
    *,
    min_events: int,
    volume_robust_z: float,
    mad_floor: float,
    like_share: float,
    like_z: float,
    like_min_impressions: int,
) -> pl.DataFrame:
    """Viewers to exclude (viewer_id, reason, events, like_share), from per-viewer counts.

    Two rules: a volume outlier has at least `min_events` events and a log event count
    `volume_robust_z` robust standard deviations above the population median; an indiscriminate
    liker has at least `like_min_impressions` impressions, likes at least `like_share` of them, and
    that many likes are `like_z` binomial standard deviations above what the population's pooled
    like share predicts (so a short lucky streak is not enough).
    """
    if activity.is_empty():
        return pl.DataFrame(
            schema={
                "viewer_id": pl.String,
                "reason": pl.String,
                "events": pl.Int64,
                "like_share": pl.Float64,
            }
        )
    log_events = np.log1p(activity["events"].to_numpy().astype(np.float64))
    median = float(np.median(log_events))
    mad = max(float(np.median(np.abs(log_events - median))), mad_floor)
    exposures = pl.max_horizontal(pl.col("impressions"), pl.col("views"))
    total_exposures = float(activity.select(exposures.sum()).item())
    pooled = min(max(float(activity["likes"].sum()) / max(total_exposures, 1.0), 1e-6), 1.0 - 1e-6)
    expected = pl.col("exposures") * pooled
    scored = activity.with_columns(
        robust_z=pl.Series((log_events - median) / (ROBUST_SD_PER_MAD * mad)),
        like_share=pl.when(exposures > 0).then(pl.col("likes") / exposures).otherwise(None),
        exposures=exposures,
    )
    is_volume = (pl.col("events") >= min_events) & (pl.col("robust_z") >= volume_robust_z)
    like_excess = (pl.col("likes") - expected) / (expected * (1.0 - pooled)).sqrt()
    is_liker = (
        (pl.col("exposures") >= like_min_impressions)
        & (pl.col("like_share") >= like_share)
        & (like_excess >= like_z)
    )
    flagged = scored.filter(is_volume | is_liker).with_columns(
        reason=pl.concat_str(
            [
                pl.when(is_volume).then(pl.lit("volume_outlier")),
                pl.when(is_liker).then(pl.lit("likes_everything")),
            ],
            separator="+",
            ignore_nulls=True,
        )
    )
    return flagged.select(
        "viewer_id",
        "reason",
        pl.col("events").cast(pl.Int64),
        pl.col("like_share").cast(pl.Float64),
    ).sort("viewer_id")


SLOT: list[str] = ["surface", "position"]
"""An exposure slot: the surface and, on the feed, the position (-1 where the surface has none)."""


def examination_curve(
    positions: pl.DataFrame,
    *,
    min_impressions: int,
    iterations: int,
    anchor: tuple[str, int] = ("feed", 0),
) -> pl.DataFrame:
    """Examination propensity per exposure slot relative to `anchor` (surface, position, impressions, views, propensity).

    `positions` holds impressions and views per (generation_id, surface, position), optionally with a
    dense integer `generation_index` (saves a join). With
    iterations = 0 the propensity is the pooled view rate of the slot over that of the anchor;
    each iteration refits views ~ impressions * propensity[slot] * attractiveness[generation] (a
    rank-one Poisson fixed point), so a feed that ranks better videos higher does not inflate the
    top slots. A slot with fewer than `min_impressions` impressions takes the propensity of the
    nearest reliable slot above it on the same surface.
    """
    schema = {
        "surface": pl.String,
        "position": pl.Int64,
        "impressions": pl.Int64,
        "views": pl.Int64,
        "propensity": pl.Float64,
    }
    if positions.is_empty() or positions["impressions"].sum() == 0:
        return pl.DataFrame(schema=schema)
    cells = positions.select(
        "generation_id",
        "surface",
        pl.col("position").cast(pl.Int64),
        pl.col("impressions").cast(pl.Float64),
        pl.col("views").cast(pl.Float64),
    )
    slots = (
        cells.group_by(SLOT)
        .agg(pl.col("impressions").sum(), pl.col("views").sum())
        .sort(SLOT)
        .with_columns(reliable=pl.col("impressions") >= min_impressions)
    )
    slot_index = slots.select(*SLOT).with_row_index("slot_index")
    if "generation_index" in positions.columns:
        indexed = cells.with_columns(positions["generation_index"]).join(slot_index, on=SLOT)
    else:
        generation_index = cells.select("generation_id").unique().with_row_index("generation_index")
        indexed = cells.join(slot_index, on=SLOT).join(generation_index, on="generation_id")
    g = indexed["generation_index"].to_numpy().astype(np.int64)
    k = indexed["slot_index"].to_numpy().astype(np.int64)
    shown = indexed["impressions"].to_numpy()
    viewed = indexed["views"].to_numpy()
    n_generations, n_slots = int(g.max()) + 1, slots.height
    views_by_generation = np.bincount(g, weights=viewed, minlength=n_generations)
    views_by_slot = np.bincount(k, weights=viewed, minlength=n_slots)
    examination = views_by_slot / np.maximum(np.bincount(k, weights=shown, minlength=n_slots), 1.0)
    for _ in range(iterations):
        exposure = np.bincount(g, weights=shown * examination[k], minlength=n_generations)
        attractiveness = np.divide(
            views_by_generation, exposure, out=np.zeros(n_generations), where=exposure > 0
        )
        weighted = np.bincount(k, weights=shown * attractiveness[g], minlength=n_slots)
        examination = np.divide(views_by_slot, weighted, out=np.zeros(n_slots), where=weighted > 0)
    propensity = _normalised_to_anchor(
        slot_index.select(*SLOT, propensity=pl.Series(examination)), slots, anchor
    )
    curve = (
        slots.join(propensity, on=SLOT, how="left")
        .sort(SLOT)
        .with_columns(
            fallback=pl.when(pl.col("reliable"))
            .then(pl.col("propensity"))
            .forward_fill()
            .over("surface")
        )
        .with_columns(propensity=pl.coalesce("fallback", "propensity"))
    )
    curve = _normalised_to_anchor(curve, slots, anchor).with_columns(
        pl.col("propensity").fill_null(1.0)
    )
    return curve.select(
        "surface",
        "position",
        pl.col("impressions").cast(pl.Int64),
        pl.col("views").cast(pl.Int64),
        pl.col("propensity").cast(pl.Float64),
    )


def _normalised_to_anchor(
    propensity: pl.DataFrame, slots: pl.DataFrame, anchor: tuple[str, int]
) -> pl.DataFrame:
    """Divide the propensities by that of the anchor slot (else of the most shown reliable slot)."""
    surface, position = anchor
    chosen = slots.filter((pl.col("surface") == surface) & (pl.col("position") == position))
    if chosen.is_empty():
        chosen = slots.sort("impressions", descending=True).head(1)
    key = chosen.select(SLOT)
    value = propensity.join(key, on=SLOT)["propensity"]
    scale = float(value[0]) if len(value) and value[0] is not None and value[0] > 0 else 1.0
    return propensity.with_columns(pl.col("propensity") / scale)


def effective_impressions(positions: pl.DataFrame, curve: pl.DataFrame) -> pl.DataFrame:
    """Per generation: slotted impressions and their sum of examination propensities (the COEC denominator).

    A slot missing from the curve (first seen after the curve was fitted) counts with propensity 1.
    """
    if positions.is_empty():
        return pl.DataFrame(
            schema={
                "generation_id": pl.String,
                "slotted_impressions": pl.Int64,
                "effective_slotted": pl.Float64,
            }
        )
    return (
        positions.with_columns(pl.col("position").cast(pl.Int64))
        .join(curve.select(*SLOT, "propensity"), on=SLOT, how="left")
        .with_columns(pl.col("propensity").fill_null(1.0))
        .group_by("generation_id")
        .agg(
            slotted_impressions=pl.col("impressions").sum().cast(pl.Int64),
            effective_slotted=(pl.col("impressions") * pl.col("propensity")).sum(),
        )
    )


def duration_bucket_edges(durations_ms: pl.Series, buckets: int) -> list[int]:
    """Lower edges (first is 0) of `buckets` equal-frequency duration buckets; ties merge buckets."""
    values = durations_ms.drop_nulls().to_numpy()
    if values.size == 0 or buckets <= 1:
        return [0]
    cuts = np.quantile(values, np.arange(1, buckets) / buckets, method="lower")
    return [0, *sorted({int(c) + 1 for c in cuts if int(c) + 1 > int(values.min())})]


def duration_bucket(duration_ms: pl.Expr, edges: list[int]) -> pl.Expr:
    """Index of the bucket (by its lower edge) a duration falls in."""
    expr = pl.lit(0, dtype=pl.Int32)
    for index, edge in enumerate(edges[1:], start=1):
        expr = pl.when(duration_ms >= edge).then(pl.lit(index, dtype=pl.Int32)).otherwise(expr)
    return expr


def completion_quantile_grid(
    completion: pl.DataFrame, edges: list[int], levels: int
) -> pl.DataFrame:
    """D2Q reference: `levels` + 1 quantiles (0..1) of completion within each duration bucket.

    `completion` holds duration_ms and completion (one value per generation with views). Returns
    duration_bucket, min_duration_ms, level, value; a bucket without generations gets a grid of 0..1.
    """
    grid_levels = [i / levels for i in range(levels + 1)]
    bucketed = completion.with_columns(
        duration_bucket=duration_bucket(pl.col("duration_ms"), edges)
    )
    rows = []
    for bucket, edge in enumerate(edges):
        values = (
            bucketed.filter(pl.col("duration_bucket") == bucket)["completion"]
            .drop_nulls()
            .to_numpy()
        )
        quantiles = np.quantile(values, grid_levels) if values.size else np.array(grid_levels)
        rows.extend(
            {
                "duration_bucket": bucket,
                "min_duration_ms": edge,
                "level": level,
                "value": float(value),
            }
            for level, value in zip(grid_levels, quantiles, strict=True)
        )
    return pl.DataFrame(
        rows,
        schema={
            "duration_bucket": pl.Int32,
            "min_duration_ms": pl.Int64,
            "level": pl.Float64,
            "value": pl.Float64,
        },
    )


def grid_edges(grid: pl.DataFrame) -> list[int]:
    """The duration bucket lower edges a completion grid was fitted with."""
    return (
        grid.select("duration_bucket", "min_duration_ms")
        .unique()
        .sort("duration_bucket")["min_duration_ms"]
        .to_list()
    )


def completion_quantile(completion: pl.DataFrame, grid: pl.DataFrame) -> pl.Series:
    """Each row's position (0..1) in its duration bucket's completion distribution (linear between grid quantiles).

    `completion` holds duration_ms and completion; rows with a null completion get null.
    """
    edges = grid_edges(grid)
    bucket = completion.select(duration_bucket(pl.col("duration_ms"), edges)).to_series().to_numpy()
    value = completion["completion"].to_numpy().astype(np.float64)
    out = np.full(value.size, np.nan)
    for b in np.unique(bucket):
        of_bucket = grid.filter(pl.col("duration_bucket") == int(b)).sort("level")
        xs, ys = of_bucket["value"].to_numpy(), of_bucket["level"].to_numpy()
        rows = (bucket == b) & ~np.isnan(value)
        # ties in the grid (a point mass) map to the middle of their levels
        upper = np.interp(value[rows], xs, ys)
        lower = -np.interp(-value[rows], -xs[::-1], -ys[::-1])
        out[rows] = 0.5 * (upper + lower)
    return pl.Series("completion_quantile", out, dtype=pl.Float64).fill_nan(None)
