"""Generation-level labels: fit the label model on all generations and their viewer halves, then score.

The label model (features.label_model) is one latent quality per generation that every signal
measures with its own strength and noise, all estimated from the data of the run. For each generation
quality_z = E[q | its counts]; quality_score = Phi(quality_z); [quality_low, quality_high] is the
central `interval_probability` band of its long-run label (the label it would reach with unlimited
exposure) given the data; label = good / bad / uncertain by where that band sits.
Scores depend only on a generation's own counts and the stored model, so labels of generations without
new events do not move unless the model does. completion_score is the generation's (shrunk)
completion rate placed in its duration bucket's distribution (D2Q), null where the duration is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import polars as pl
from scipy.special import ndtr, ndtri

from features.debias import completion_grid, completion_positions
from features.engagement import cells_summed
from features.label_config import LabelConfig
from features.label_fit import fit_data, fit_label_model
from features.label_model import (
    LabelModel,
    design_of,
    intercepts_of,
    rates_for_variance,
    score,
)
from features.label_parameters import label_model_moved
from features.label_posterior import Posterior
from features.label_select_direction import SelectTilt
from features.label_signals import signal_counts
from features.stable_keys import smallest_keys, stable_keys

LABEL_COLUMNS: tuple[str, ...] = (
    "generation_id",
    "request_id",
    "model_version",
    "label_version",
    "impressions",
    "views",
    "completion_score",
    "likes",
    "favorites",
    "shares",
    "comments",
    "downloads",
    "dislikes",
    "reports",
    "studio_impressions",
    "selects",
    "regenerates",
    "quality_score",
    "quality_low",
    "quality_high",
    "label",
    "effective_impressions",
    "watch_ms",
    "long_views",
    "quality_z",
    "long_run_sd",
)

SCORE_DECIMALS: int = 9
"""Stored scores are rounded so a recomputation from the same counts writes the same values."""


@dataclass(frozen=True)
class LabelFit:
    """What a label run fits and stores: the label model and the completion reference of completion_score."""

    model: LabelModel
    completion_quantiles: pl.DataFrame
    """duration_bucket, min_duration_ms, level, value"""
    select_tilt: SelectTilt | None = None
    """What the studio's selects did to this fit (rows of its frame; not stored): for held-out checks."""


@dataclass(frozen=True)
class LabelFrames:
    """The engagement of every generation (sorted by generation_id), whole and per part of the data."""

    full: pl.DataFrame
    half_a: pl.DataFrame
    half_b: pl.DataFrame
    early: pl.DataFrame
    late: pl.DataFrame


def label_frames(engagement: pl.DataFrame, cells: pl.DataFrame) -> LabelFrames:
    """`engagement` sorted by generation_id, and the same generations' viewer halves (likes net over
    the whole window, as the full data's) and periods (likes net within each; the periods are split
    for the diagnostics' sample only: elsewhere `early` is everything)."""
    if not engagement["generation_id"].is_sorted():
        engagement = engagement.sort("generation_id")
    ids = engagement["generation_id"]
    record = engagement.select(
        c for c in engagement.columns if c not in cells.columns or c == "generation_id"
    )

    def part(keep: pl.Expr, *, whole_window: bool) -> pl.DataFrame:
        counts = cells_summed(cells, keep, ids, whole_window=whole_window).drop("generation_id")
        return pl.concat([record, counts], how="horizontal")

    return LabelFrames(
        full=engagement,
        half_a=part(pl.col("half") == 0, whole_window=True),
        half_b=part(pl.col("half") == 1, whole_window=True),
        early=part(pl.col("period") == 0, whole_window=False),
        late=part(pl.col("period") == 1, whole_window=False),
    )


def shrunk_completion(frame: pl.DataFrame, model: LabelModel, config: LabelConfig) -> np.ndarray:
    """Each generation's completion rate shrunk toward its duration bucket's (NaN: unknown or no views)."""
    if "completion" not in model.signals:
        return np.full(frame.height, np.nan)
    counts = signal_counts(frame, config, ("completion",))
    index = model.signals.index("completion")
    design = design_of(frame, model, config)
    intercept = intercepts_of(model, design)[:, index : index + 1]
    strength = model.shrink_strength[index : index + 1]
    rate = rates_for_variance(counts, intercept, strength)[:, 0]
    return np.where(counts.observed[:, 0], rate, np.nan)


def label_subsets(frame: pl.DataFrame, config: LabelConfig) -> tuple[np.ndarray, np.ndarray]:
    """(sample, fitted): masks of the generations of `frame` the interval and diagnostics are measured
    on (`diagnostics_max_generations`) and the signal parameters estimated on (`fit_max_generations`),
    each the smallest stable keys (a fixed, quality-blind subset; the first inside the second)."""
    keys = stable_keys(frame["generation_id"].to_list())
    return (
        smallest_keys(keys, config.diagnostics_max_generations),
        smallest_keys(keys, config.fit_max_generations),
    )


def fit_labels(
    frames: LabelFrames,
    config: LabelConfig,
    sample: np.ndarray,
    fitted: np.ndarray,
) -> LabelFit:
    """The label model of all generations and the completion reference under it; the interval is
    measured on the generations of the `sample` mask, the signal parameters estimated on those of
    `fitted`."""
    data = fit_data(frames.full, frames.half_a, frames.half_b, config, sample, fitted)
    model, tilt = fit_label_model(data, config)
    completion = shrunk_completion(frames.full, model, config)
    observed = np.isfinite(completion)
    grid = completion_grid(
        completion[observed],
        data.design.bucket[observed],
        list(model.duration_edges),
        config.completion_quantile_levels,
    )
    return LabelFit(model, grid, tilt)


def label_fit_moved(
    old: LabelFit | None,
    new: LabelFit,
    tolerance: float,
    interval_tolerance: float | None = None,
) -> bool:
    """True when the refit moved the model or the completion reference by more than `tolerance`."""
    if old is None or label_model_moved(old.model, new.model, tolerance, interval_tolerance):
        return True
    keys = ["duration_bucket", "level"]
    both = old.completion_quantiles.join(new.completion_quantiles, on=keys, suffix="_new")
    if (
        both.height != new.completion_quantiles.height
        or both.height != old.completion_quantiles.height
    ):
        return True
    change = both.select((pl.col("value_new") - pl.col("value")).abs().max()).item()
    return bool(change is not None and change > tolerance)


def posterior_of(
    frame: pl.DataFrame,
    model: LabelModel,
    config: LabelConfig,
    exposure_scale: float = 1.0,
    long_run: bool = True,
) -> Posterior:
    """The label model's posterior of every generation in `frame` (a part of the data is put on the
    whole's exposure scale by `exposure_scale`; without `long_run`, no long-run variance)."""
    counts = signal_counts(frame, config, model.signals)
    return score(model, counts, design_of(frame, model, config, exposure_scale), long_run)


def quality_scores(frame: pl.DataFrame, model: LabelModel, config: LabelConfig) -> pl.DataFrame:
    """Per generation (rows of `frame`): quality_z, quality_z_var, long_run_sd, quality_score,
    quality_low, quality_high (rounded) and label."""
    post = posterior_of(frame, model, config)
    half_width = float(ndtri(0.5 + config.interval_probability / 2.0))
    sd = np.sqrt(post.long_run_variance)
    scored = pl.DataFrame(
        {
            "generation_id": frame["generation_id"],
            "quality_z": post.mean,
            "quality_z_var": post.variance,
            "long_run_sd": sd,
            "quality_score": ndtr(post.mean),
            "quality_low": ndtr(post.mean - half_width * sd),
            "quality_high": ndtr(post.mean + half_width * sd),
        }
    ).with_columns(
        pl.col(
            "quality_z",
            "quality_z_var",
            "long_run_sd",
            "quality_score",
            "quality_low",
            "quality_high",
        ).round(SCORE_DECIMALS)
    )
    return scored.with_columns(
        label=pl.when(pl.col("quality_low") >= config.good_min_low)
        .then(pl.lit("good"))
        .when(pl.col("quality_high") <= config.bad_max_high)
        .then(pl.lit("bad"))
        .otherwise(pl.lit("uncertain"))
    )


def held_out_quality(
    frame: pl.DataFrame, fit: LabelFit, quality: np.ndarray, config: LabelConfig
) -> np.ndarray:
    """`quality` (quality_z of `frame`, the fit's frame) with each generation whose selects turned the
    fit's direction scored instead under the direction its fold's votes did not shape (the prior and
    intercepts stay the fit's): the label as a check against the selects must see it. A run that
    keeps its stored model passes the fresh fit here (a stored fit holds no folds; the two are
    within `prior_tolerance`)."""
    values = np.asarray(quality, dtype=np.float64).copy()
    tilt = fit.select_tilt
    if tilt is None or not tilt.fold_factors:
        return values
    if tilt.fold.size != frame.height:
        raise ValueError(f"the tilt has {tilt.fold.size} rows, the frame {frame.height}")
    voters = np.flatnonzero(tilt.fold >= 0)
    voting = frame[voters]
    counts = signal_counts(voting, config, fit.model.signals)
    design = design_of(voting, fit.model, config)
    fold = tilt.fold[voters]
    for part, factor in tilt.fold_factors.items():
        rows = fold == part
        model = replace(fit.model, loading=factor.loading, persistent=factor.persistent)
        post = score(model, counts.rows(rows), design.rows(rows), long_run=False)
        values[voters[rows]] = np.round(post.mean, SCORE_DECIMALS)
    return values


def label_rows(
    frame: pl.DataFrame,
    scores: pl.DataFrame,
    fit: LabelFit,
    config: LabelConfig,
    label_version: str,
) -> pl.DataFrame:
    """Rows of the `labels` table (without labeled_at) for the generations of `frame` (sorted by
    generation_id, `scores` in the same order): counts, completion_score, score, interval, label."""
    completion = shrunk_completion(frame, fit.model, config)
    design = design_of(frame, fit.model, config)
    positions = completion_positions(completion, design.bucket, fit.completion_quantiles)
    return (
        frame.with_columns(
            scores.select(
                "quality_score", "quality_low", "quality_high", "label", "quality_z", "long_run_sd"
            ),
            label_version=pl.lit(label_version),
            completion_score=pl.Series(positions, dtype=pl.Float64)
            .fill_nan(None)
            .round(SCORE_DECIMALS),
        )
        .with_columns(pl.col("effective_impressions").round(SCORE_DECIMALS))
        .select(LABEL_COLUMNS)
    )
