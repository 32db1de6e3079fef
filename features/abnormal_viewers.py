"""Abnormal viewers (bots): viewers whose activity the deployment's own viewer population cannot explain.

Three rules, each set against the population rather than a fixed rate: a volume outlier (log event
count far above the population's median in robust sds), an indiscriminate liker (a like share far
above the pooled one, in binomial sds), and an indiscriminate viewer (far more views than the
population's view rates at the same feed position bands predict, in sds of binomial noise plus the
spread of view propensity among ordinary viewers, itself estimated robustly from the population: a
viewer who watches what people skip).
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.special import betainc, gammainc, ndtr

from features.label_config import LabelConfig

ROBUST_SD_PER_MAD: float = 1.4826
"""MAD * 1.4826 estimates the standard deviation of a normal distribution."""

COUNT_COLUMNS: tuple[str, ...] = ("events", "impressions", "views", "likes")

FLAGGED_SCHEMA: dict[str, pl.DataType] = {
    "viewer_id": pl.String,
    "reason": pl.String,
    "events": pl.Int64,
    "like_share": pl.Float64,
}


def viewer_totals(activity: pl.DataFrame) -> pl.DataFrame:
    """One row per viewer: the counts summed over position bands."""
    return activity.group_by("viewer_id").agg(pl.col(c).sum() for c in COUNT_COLUMNS)


def _robust_scale(values: np.ndarray, floor: float) -> tuple[float, float]:
    """(median, robust sd) of `values`, the sd at least `floor`."""
    median = float(np.median(values))
    mad = float(np.median(np.abs(values - median)))
    return median, max(ROBUST_SD_PER_MAD * mad, floor)


CHI2_1_MEDIAN: float = 0.454936
"""The median of a chi-square variable with one degree of freedom: of z^2 for an ordinary viewer."""


def _band_rates(cells: pl.DataFrame, excluded: pl.Series) -> pl.DataFrame:
    """Each position band's view rate of the mean viewer, without `excluded` (where any remain)."""
    # each viewer counts once in a band's rate: a few heavy viewers (the bots) cannot set it
    rate = (pl.col("viewed") / pl.col("shown")).mean().clip(1e-6, 1.0 - 1e-6)
    every = cells.group_by("position_band").agg(rate.alias("rate"))
    clean = cells.filter(~pl.col("viewer_id").is_in(excluded.implode())).group_by("position_band")
    rates = every.join(clean.agg(rate.alias("clean_rate")), on="position_band", how="left")
    return rates.select("position_band", pl.coalesce("clean_rate", "rate").alias("rate"))


def overdispersion(
    viewed: np.ndarray, expected: np.ndarray, variance: np.ndarray, iterations: int = 60
) -> float:
    """s^2 such that z = (viewed - expected) / sqrt(variance + s^2 expected^2) has the median z^2 of
    a standard normal over these viewers: how much ordinary viewers' view propensities differ beyond
    sampling noise (robust to a minority of outliers; 0 when sampling noise explains it all)."""

    def median_z2(s2: float) -> float:
        return float(np.median((viewed - expected) ** 2 / (variance + s2 * expected**2)))

    if viewed.size == 0 or median_z2(0.0) <= CHI2_1_MEDIAN:
        return 0.0
    low, high = 0.0, 1.0
    while median_z2(high) > CHI2_1_MEDIAN and high < 1e6:
        low, high = high, high * 4.0
    for _ in range(iterations):
        middle = 0.5 * (low + high)
        low, high = (middle, high) if median_z2(middle) > CHI2_1_MEDIAN else (low, middle)
    return high


def _view_scores(cells: pl.DataFrame, excluded: pl.Series, config: LabelConfig) -> pl.DataFrame:
    """Per viewer: views, the views the population's band rates (without `excluded`) predict, and
    view_tail, the chance of that many views given the population's own spread of view propensity
    (null when too few viewers are well enough observed to measure that spread)."""
    per_viewer = (
        cells.join(_band_rates(cells, excluded), on="position_band")
        .group_by("viewer_id")
        .agg(
            pl.col("viewed").sum().cast(pl.Float64),
            (pl.col("shown") * pl.col("rate")).sum().alias("expected"),
            (pl.col("shown") * pl.col("rate") * (1.0 - pl.col("rate"))).sum().alias("variance"),
        )
    )
    reference = per_viewer.filter(
        (pl.col("expected") >= config.bot_view_min_expected)
        & ~pl.col("viewer_id").is_in(excluded.implode())
    )
    if reference.height < config.bot_view_min_reference:
        return per_viewer.with_columns(view_tail=pl.lit(None, dtype=pl.Float64))
    spread = overdispersion(
        reference["viewed"].to_numpy(),
        reference["expected"].to_numpy(),
        reference["variance"].to_numpy(),
    )
    return per_viewer.with_columns(
        view_tail=pl.Series(
            excess_view_tail(
                per_viewer["viewed"].to_numpy(), per_viewer["expected"].to_numpy(), spread
            )
        )
    )


def excess_view_tail(viewed: np.ndarray, expected: np.ndarray, spread: float) -> np.ndarray:
    """P(at least `viewed` views) for a viewer expected to view `expected` times whose propensity
    varies as the population's does (negative binomial, variance expected + spread * expected^2;
    Poisson when spread is 0): exact for a handful of views, where a z-score would flag a single
    lucky view of a deep slot."""
    mean = np.clip(expected, 1e-12, None)
    count = np.floor(np.clip(viewed, 0.0, None))
    tail = np.ones(count.size)
    some = count > 0
    # P(X >= k): Poisson gammainc(k, mean); negative binomial I_{1-p}(k, size), p = size / (size + mean)
    if spread <= 0.0:
        tail[some] = gammainc(count[some], mean[some])
    else:
        size = 1.0 / spread
        tail[some] = betainc(count[some], size, mean[some] / (size + mean[some]))
    return tail


def indiscriminate_viewers(activity: pl.DataFrame, config: LabelConfig) -> pl.DataFrame:
    """viewer_id and is_viewing_outlier of every viewer with impressions: the view rule, its band
    rates and spread re-estimated without the viewers flagged in the previous round."""
    cells = activity.filter(pl.col("impressions") > 0).select(
        "viewer_id",
        "position_band",
        pl.col("impressions").cast(pl.Float64).alias("shown"),
        pl.min_horizontal("views", "impressions").cast(pl.Float64).alias("viewed"),
    )
    is_outlier = (pl.col("view_tail") <= float(ndtr(-config.bot_view_z))).fill_null(False)
    excluded = pl.Series("viewer_id", [], dtype=pl.String)
    scores = _view_scores(cells, excluded, config)
    for _ in range(config.bot_view_rounds - 1):
        flagged = scores.filter(is_outlier)["viewer_id"].sort()
        if flagged.equals(excluded):
            break
        excluded = flagged
        scores = _view_scores(cells, excluded, config)
    return scores.select("viewer_id", is_outlier.alias("is_viewing_outlier"))


def abnormal_viewers(activity: pl.DataFrame, config: LabelConfig) -> pl.DataFrame:
    """Viewers to exclude (viewer_id, reason, events, like_share) from their counts per position band
    (viewer_id, position_band, events, impressions, views, likes), by the three rules."""
    if activity.is_empty():
        return pl.DataFrame(schema=FLAGGED_SCHEMA)
    totals = viewer_totals(activity)
    log_events = np.log1p(totals["events"].to_numpy().astype(np.float64))
    median, sd = _robust_scale(log_events, ROBUST_SD_PER_MAD * config.bot_mad_floor)
    exposures = pl.max_horizontal(pl.col("impressions"), pl.col("views"))
    total_exposures = float(totals.select(exposures.sum()).item())
    pooled = min(max(float(totals["likes"].sum()) / max(total_exposures, 1.0), 1e-6), 1.0 - 1e-6)
    expected = pl.col("exposures") * pooled
    scored = totals.with_columns(
        robust_z=pl.Series((log_events - median) / sd),
        like_share=pl.when(exposures > 0).then(pl.col("likes") / exposures).otherwise(None),
        exposures=exposures,
    ).join(indiscriminate_viewers(activity, config), on="viewer_id", how="left")
    is_volume = (pl.col("events") >= config.bot_min_events) & (
        pl.col("robust_z") >= config.bot_volume_robust_z
    )
    like_excess = (pl.col("likes") - expected) / (expected * (1.0 - pooled)).sqrt()
    is_liker = (
        (pl.col("exposures") >= config.bot_like_min_impressions)
        & (pl.col("like_share") >= config.bot_like_share)
        & (like_excess >= config.bot_like_z)
    )
    is_viewer = pl.col("is_viewing_outlier").fill_null(False)
    reasons = [
        pl.when(rule).then(pl.lit(name))
        for rule, name in (
            (is_volume, "volume_outlier"),
            (is_liker, "likes_everything"),
            (is_viewer, "views_everything"),
        )
    ]
    flagged = scored.filter(is_volume | is_liker | is_viewer).with_columns(
        reason=pl.concat_str(reasons, separator="+", ignore_nulls=True)
    )
    return flagged.select(
        "viewer_id",
        "reason",
        pl.col("events").cast(pl.Int64),
        pl.col("like_share").cast(pl.Float64),
    ).sort("viewer_id")
