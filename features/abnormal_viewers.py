"""Abnormal viewers (bots): viewers whose activity the deployment's own viewer population cannot explain.

Three rules, each set against the population rather than a fixed rate: a volume outlier (log event
count far above the population's median in robust sds), an indiscriminate liker (a like share far
above the pooled one, in binomial sds), and an indiscriminate viewer (far more views than the
population's view rates at the same feed position bands predict, in sds of binomial noise plus the
spread of view propensity among ordinary viewers, itself estimated robustly from the population: a
viewer who watches what people skip).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.optimize import brentq
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


def viewer_codes(activity: pl.DataFrame) -> tuple[np.ndarray, pl.Series]:
    """A dense code (0..viewers-1, in order of first row) per row of its viewer, and the viewer id of
    each code."""
    rows = activity.select("viewer_id").with_row_index("row")
    grouped = rows.group_by("viewer_id", maintain_order=True).agg("row")
    code = np.empty(activity.height, dtype=np.int64)
    code[grouped["row"].explode().to_numpy()] = np.repeat(
        np.arange(grouped.height, dtype=np.int64), grouped["row"].list.len().to_numpy()
    )
    return code, grouped["viewer_id"]


def viewer_totals(activity: pl.DataFrame, code: np.ndarray, viewer_ids: pl.Series) -> pl.DataFrame:
    """One row per viewer (in code order): the counts summed over position bands."""
    size = viewer_ids.len()
    return pl.DataFrame(
        {
            "viewer_id": viewer_ids,
            **{
                c: np.bincount(
                    code,
                    weights=activity[c].cast(pl.Float64).fill_null(0.0).to_numpy(),
                    minlength=size,
                ).astype(np.int64)
                for c in COUNT_COLUMNS
            },
        }
    )


def _robust_scale(values: np.ndarray, floor: float) -> tuple[float, float]:
    """(median, robust sd) of `values`, the sd at least `floor`."""
    median = float(np.median(values))
    mad = float(np.median(np.abs(values - median)))
    return median, max(ROBUST_SD_PER_MAD * mad, floor)


CHI2_1_MEDIAN: float = 0.454936
"""The median of a chi-square variable with one degree of freedom: of z^2 for an ordinary viewer."""


@dataclass(frozen=True)
class ViewCells:
    """Impressions and views per (viewer, position band), as integer codes for fast sums."""

    viewer: np.ndarray
    """Code of the row's viewer (0..viewers-1)."""
    band: np.ndarray
    """The row's position band plus one (0: off the feed)."""
    shown: np.ndarray
    viewed: np.ndarray
    viewers: int
    bands: int


def view_cells(activity: pl.DataFrame, code: np.ndarray, viewers: int) -> ViewCells:
    """The cells with impressions (`code`: each row's viewer code, of `viewers`)."""
    impressions = activity["impressions"].cast(pl.Float64).fill_null(0.0).to_numpy()
    shown_rows = impressions > 0
    # bands are -1 (off the feed) to a small positive number: shifted by one they index an array
    band = activity["position_band"].cast(pl.Int64).fill_null(-1).to_numpy()[shown_rows] + 1
    shown = impressions[shown_rows]
    views = activity["views"].cast(pl.Float64).fill_null(0.0).to_numpy()[shown_rows]
    return ViewCells(
        viewer=code[shown_rows],
        band=band,
        shown=shown,
        viewed=np.minimum(views, shown),
        viewers=viewers,
        bands=int(band.max()) + 1 if band.size else 0,
    )


def _band_rates(cells: ViewCells, excluded: np.ndarray) -> np.ndarray:
    """Each position band's view rate of the mean viewer, without the `excluded` viewers (where any
    remain)."""
    # each viewer counts once in a band's rate: a few heavy viewers (the bots) cannot set it
    rate = cells.viewed / cells.shown
    kept = (~excluded[cells.viewer]).astype(np.float64)
    every = np.bincount(cells.band, weights=rate, minlength=cells.bands)
    count = np.bincount(cells.band, minlength=cells.bands).astype(np.float64)
    clean = np.bincount(cells.band, weights=rate * kept, minlength=cells.bands)
    clean_count = np.bincount(cells.band, weights=kept, minlength=cells.bands)
    mean = np.where(
        clean_count > 0, clean / np.maximum(clean_count, 1.0), every / np.maximum(count, 1.0)
    )
    return np.clip(mean, 1e-6, 1.0 - 1e-6)


def overdispersion(viewed: np.ndarray, expected: np.ndarray, variance: np.ndarray) -> float:
    """s^2 such that z = (viewed - expected) / sqrt(variance + s^2 expected^2) has the median z^2 of
    a standard normal over these viewers: how much ordinary viewers' view propensities differ beyond
    sampling noise (robust to a minority of outliers; 0 when sampling noise explains it all)."""
    squared_gap = (viewed - expected) ** 2
    expected_sq = expected**2

    def excess_median(s2: float) -> float:
        # decreasing in s2: the root is where the median z^2 meets the normal's
        return float(np.median(squared_gap / (variance + s2 * expected_sq))) - CHI2_1_MEDIAN

    if viewed.size == 0 or excess_median(0.0) <= 0.0:
        return 0.0
    low, high = 0.0, 1.0
    while excess_median(high) > 0.0 and high < 1e6:
        low, high = high, high * 4.0
    if excess_median(high) > 0.0:
        return high
    return float(brentq(excess_median, low, high, xtol=1e-12, rtol=1e-10))


def view_tails(cells: ViewCells, excluded: np.ndarray, config: LabelConfig) -> np.ndarray | None:
    """Per viewer code: the chance of at least their views given the views the population's band
    rates (without `excluded`) predict and the population's own spread of view propensity (None
    when too few viewers are well enough observed to measure that spread)."""
    rate = _band_rates(cells, excluded)[cells.band]
    viewed = np.bincount(cells.viewer, weights=cells.viewed, minlength=cells.viewers)
    expected = np.bincount(cells.viewer, weights=cells.shown * rate, minlength=cells.viewers)
    variance = np.bincount(
        cells.viewer, weights=cells.shown * rate * (1.0 - rate), minlength=cells.viewers
    )
    reference = (expected >= config.bot_view_min_expected) & (expected > 0) & ~excluded
    if int(reference.sum()) < config.bot_view_min_reference:
        return None
    spread = overdispersion(viewed[reference], expected[reference], variance[reference])
    return excess_view_tail(viewed, expected, spread)


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


def indiscriminate_viewers(cells: ViewCells, config: LabelConfig) -> np.ndarray:
    """Per viewer code, whether the view rule flags the viewer: its band rates and spread
    re-estimated without the viewers flagged in the previous round."""
    threshold = float(ndtr(-config.bot_view_z))
    excluded = np.zeros(cells.viewers, dtype=bool)
    flagged = excluded
    for _ in range(config.bot_view_rounds):
        tails = view_tails(cells, excluded, config)
        flagged = np.zeros(cells.viewers, dtype=bool) if tails is None else tails <= threshold
        if np.array_equal(flagged, excluded):
            break
        excluded = flagged
    return flagged


def abnormal_viewers(activity: pl.DataFrame, config: LabelConfig) -> pl.DataFrame:
    """Viewers to exclude (viewer_id, reason, events, like_share) from their counts per position band
    (viewer_id, position_band, events, impressions, views, likes), by the three rules."""
    if activity.is_empty():
        return pl.DataFrame(schema=FLAGGED_SCHEMA)
    code, viewer_ids = viewer_codes(activity)
    totals = viewer_totals(activity, code, viewer_ids)
    viewing = indiscriminate_viewers(view_cells(activity, code, viewer_ids.len()), config)
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
        is_viewing_outlier=pl.Series(viewing, dtype=pl.Boolean),
    )
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
