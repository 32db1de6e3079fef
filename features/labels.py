"""Generation-level labels: fit the label model (examination curve, D2Q grid, Beta priors), then score.

quality z = sum_k w_k (posterior_mean_k - mu_k) / sd_k / sqrt(sum_k w_k^2), over the signals k, where
mu_k and sd_k are the mean and between-generation sd of the rate under its global prior; its
posterior variance is sum_k w_k^2 var_k / sd_k^2 / sum_k w_k^2. quality_score = Phi(z) (standard
normal CDF), quality_low/high = Phi(z -/+ q sd(z)) with q the normal quantile of the interval.
A score depends only on the generation's own counts and the stored model, so labels of
generations without new events do not move unless the model does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.special import ndtr, ndtri

from features.debias import (
    completion_quantile_grid,
    completion_sums,
    duration_bucket_edges,
    effective_impressions,
    examination_curve,
)
from features.label_config import SIGNALS, LabelConfig
from features.smoothing import (
    GLOBAL_SEGMENT,
    fit_priors,
    posterior_moments,
    prior_moments,
    priors_moved,
)

ENGAGEMENT_COLUMNS: tuple[str, ...] = (
    "generation_id",
    "request_id",
    "model_version",
    "duration_ms",
    "impressions",
    "views",
    "watch_ms",
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

# signal -> (successes column, trials column) of the generation-level inputs
SIGNAL_COUNTS: dict[str, tuple[str, str]] = {
    "view": ("views", "effective_impressions"),
    "completion": ("completion_sum", "completion_views"),
    "like": ("likes", "views"),
    "favorite": ("favorites", "views"),
    "share": ("shares", "views"),
    "comment": ("comments", "views"),
    "download": ("downloads", "views"),
    "dislike": ("dislikes", "views"),
    "report": ("reports", "views"),
    "select": ("selects", "studio_impressions"),
    "regenerate": ("regenerates", "studio_impressions"),
}

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
)

SCORE_DECIMALS = 9
"""Stored scores are rounded so a recomputation from the same counts writes the same values."""


@dataclass(frozen=True)
class LabelModel:
    """What the label run fits from all generations and stores: refit each run, adopted only if it moved."""

    examination: pl.DataFrame
    """position, impressions, views, propensity"""
    completion_quantiles: pl.DataFrame
    """duration_bucket, min_duration_ms, ratio_bin, quantile"""
    priors: pl.DataFrame
    """signal, segment, alpha, beta, generations, trials_scale"""


def generation_inputs(
    engagement: pl.DataFrame,
    positions: pl.DataFrame,
    watch: pl.DataFrame,
    examination: pl.DataFrame,
    completion_quantiles: pl.DataFrame,
) -> pl.DataFrame:
    """Engagement plus the debiased exposures: effective_impressions (COEC denominator) and D2Q sums."""
    effective = effective_impressions(positions, examination)
    completion = completion_sums(
        watch, engagement.select("generation_id", "duration_ms"), completion_quantiles
    )
    return (
        engagement.join(effective, on="generation_id", how="left")
        .join(completion, on="generation_id", how="left")
        .with_columns(
            pl.col("slotted_impressions").fill_null(0),
            pl.col("effective_slotted").fill_null(0.0),
            pl.col("completion_views").fill_null(0),
            pl.col("completion_sum").fill_null(0.0),
            pl.col("completion_sq_sum").fill_null(0.0),
        )
        .with_columns(
            effective_impressions=pl.col("effective_slotted")
            + (pl.col("impressions") - pl.col("slotted_impressions")).clip(lower_bound=0),
        )
    )


def completion_trials_scale(inputs: pl.DataFrame) -> float:
    """Pseudo-trials per view for the completion signal: Bernoulli variance over the pooled within-generation variance of D2Q quantiles.

    A view's quantile is a number in [0, 1], not a yes/no, so it says more about the generation's
    mean than a Bernoulli trial would; counting each view as this many trials keeps the Beta
    posterior's variance honest.
    """
    several = inputs.filter(pl.col("completion_views") >= 2)
    views = float(inputs["completion_views"].sum())
    if several.is_empty() or views <= 0:
        return 1.0
    mean = float(inputs["completion_sum"].sum()) / views
    within = several.select(
        (
            pl.col("completion_sq_sum") - pl.col("completion_sum") ** 2 / pl.col("completion_views")
        ).sum()
        / (pl.col("completion_views") - 1).sum()
    ).item()
    if within is None or within <= 0:
        return 1.0
    return float(mean * (1.0 - mean) / within)


def signal_counts(inputs: pl.DataFrame, trials_scale: dict[str, float]) -> pl.DataFrame:
    """Long frame generation_id, segment (model_version), signal, successes, trials (scaled pseudo-counts)."""
    parts = []
    for signal in SIGNALS:
        successes, trials = SIGNAL_COUNTS[signal]
        scale = trials_scale.get(signal, 1.0)
        parts.append(
            inputs.select(
                "generation_id",
                segment=pl.col("model_version"),
                signal=pl.lit(signal),
                successes=pl.col(successes).cast(pl.Float64) * scale,
                trials=pl.col(trials).cast(pl.Float64) * scale,
            )
        )
    return pl.concat(parts)


def fit_label_model(
    engagement: pl.DataFrame, positions: pl.DataFrame, watch: pl.DataFrame, config: LabelConfig
) -> LabelModel:
    """Fit the examination curve, the D2Q grid and the Beta priors from every generation's clean counts."""
    examination = examination_curve(
        positions,
        min_impressions=config.position_min_impressions,
        iterations=config.position_em_iterations,
    )
    edges = duration_bucket_edges(engagement["duration_ms"], config.duration_quantile_buckets)
    grid = completion_quantile_grid(watch, engagement, edges, config.watch_ratio_bins)
    inputs = generation_inputs(engagement, positions, watch, examination, grid)
    scales = {"completion": completion_trials_scale(inputs)}
    priors = fit_priors(
        signal_counts(inputs, scales),
        min_generations=config.prior_min_generations,
        min_strength=config.prior_min_strength,
        max_strength=config.prior_max_strength,
        max_rows=config.prior_fit_max_rows,
    ).with_columns(
        trials_scale=pl.col("signal").replace_strict(scales, default=1.0, return_dtype=pl.Float64)
    )
    return LabelModel(examination=examination, completion_quantiles=grid, priors=priors)


def label_model_moved(old: LabelModel | None, new: LabelModel, tolerance: float) -> bool:
    """True when the refit differs from the stored model by more than `tolerance` anywhere it matters.

    Examination propensities and D2Q quantiles compare by absolute difference, duration edges,
    prior means and sds and trials scales relatively.
    """
    if old is None:
        return True
    if (
        _max_abs_change(old.examination, new.examination, ["surface", "position"], "propensity")
        > tolerance
    ):
        return True
    old_edges = old.completion_quantiles.select("duration_bucket", "min_duration_ms").unique()
    new_edges = new.completion_quantiles.select("duration_bucket", "min_duration_ms").unique()
    if (
        _max_relative_change(old_edges, new_edges, ["duration_bucket"], "min_duration_ms")
        > tolerance
    ):
        return True
    keys = ["duration_bucket", "ratio_bin"]
    if (
        _max_abs_change(old.completion_quantiles, new.completion_quantiles, keys, "quantile")
        > tolerance
    ):
        return True
    if priors_moved(old.priors, new.priors, tolerance):
        return True
    scales = ["signal", "segment"]
    return _max_relative_change(old.priors, new.priors, scales, "trials_scale") > tolerance


def _max_abs_change(old: pl.DataFrame, new: pl.DataFrame, keys: list[str], column: str) -> float:
    """Largest absolute change of `column` between frames keyed alike (inf if the keys differ)."""
    if old.height != new.height:
        return float("inf")
    both = old.select(*keys, column).join(new.select(*keys, column), on=keys, suffix="_new")
    if both.height != old.height:
        return float("inf")
    if both.is_empty():
        return 0.0
    return float(both.select((pl.col(f"{column}_new") - pl.col(column)).abs().max()).item())


def _max_relative_change(
    old: pl.DataFrame, new: pl.DataFrame, keys: list[str], column: str
) -> float:
    """Largest relative change of `column` between frames keyed alike (inf if the keys differ)."""
    if old.height != new.height:
        return float("inf")
    both = old.select(*keys, column).join(new.select(*keys, column), on=keys, suffix="_new")
    if both.height != old.height:
        return float("inf")
    if both.is_empty():
        return 0.0
    change = (pl.col(f"{column}_new") - pl.col(column)).abs() / pl.col(column).abs().clip(
        lower_bound=1e-12
    )
    return float(both.select(change.max()).item())


def quality_scores(inputs: pl.DataFrame, model: LabelModel, config: LabelConfig) -> pl.DataFrame:
    """Per generation: quality_z and its posterior variance, quality_score, quality_low, quality_high, label."""
    scales = dict(
        model.priors.filter(pl.col("segment") == GLOBAL_SEGMENT)
        .select("signal", "trials_scale")
        .iter_rows()
    )
    posterior = posterior_moments(signal_counts(inputs, scales), model.priors.drop("trials_scale"))
    weights = config.weights()
    norm = float(np.sqrt(sum(w * w for w in weights.values())))
    if norm == 0:
        raise ValueError(
            "LabelConfig.signal_weights are all zero: no signal makes the quality score"
        )
    global_moments = prior_moments(model.priors.filter(pl.col("segment") == GLOBAL_SEGMENT)).select(
        "signal",
        "prior_mean",
        "prior_sd",
        weight=pl.col("signal").replace_strict(weights, return_dtype=pl.Float64),
    )
    sd = pl.col("prior_sd").clip(lower_bound=1e-12)
    per_generation = (
        posterior.join(global_moments, on="signal")
        .group_by("generation_id")
        .agg(
            quality_z=(
                pl.col("weight") * (pl.col("posterior_mean") - pl.col("prior_mean")) / sd
            ).sum()
            / norm,
            quality_z_var=(pl.col("weight") ** 2 * pl.col("posterior_var") / sd**2).sum() / norm**2,
        )
    )
    z = per_generation["quality_z"].to_numpy()
    z_sd = np.sqrt(per_generation["quality_z_var"].to_numpy())
    half_width = float(ndtri(0.5 + config.interval_probability / 2.0))
    scored = per_generation.with_columns(
        quality_score=pl.Series(ndtr(z)),
        quality_low=pl.Series(ndtr(z - half_width * z_sd)),
        quality_high=pl.Series(ndtr(z + half_width * z_sd)),
    ).with_columns(pl.col("quality_score", "quality_low", "quality_high").round(SCORE_DECIMALS))
    return scored.with_columns(
        label=pl.when(pl.col("quality_low") >= config.good_min_low)
        .then(pl.lit("good"))
        .when(pl.col("quality_high") <= config.bad_max_high)
        .then(pl.lit("bad"))
        .otherwise(pl.lit("uncertain"))
    )


def label_rows(inputs: pl.DataFrame, scores: pl.DataFrame, label_version: str) -> pl.DataFrame:
    """Rows of the `labels` table (without labeled_at): counts, D2Q completion_score, score, interval, label."""
    return (
        inputs.join(scores, on="generation_id", how="left")
        .with_columns(
            label_version=pl.lit(label_version),
            completion_score=pl.when(pl.col("completion_views") > 0)
            .then(pl.col("completion_sum") / pl.col("completion_views"))
            .otherwise(None)
            .round(SCORE_DECIMALS),
            effective_impressions=pl.col("effective_impressions").round(SCORE_DECIMALS),
        )
        .select(LABEL_COLUMNS)
        .sort("generation_id")
    )
