"""Generation-level labels: fit the label model (examination curve, Beta priors, D2Q grid), then score.

Signals k are rates with Beta posteriors (see SIGNAL_COUNTS). Their standardised posterior means
combine into

    quality z = sum_k w_k (posterior_mean_k - mu_k) / sd_k / sqrt(sum_k w_k^2)

where mu_k, sd_k are the mean and between-generation sd under the signal's global prior (for
completion: under the prior of the generation's duration bucket, which removes the duration bias);
the posterior variance of z is sum_k w_k^2 var_k / sd_k^2 / sum_k w_k^2. quality_score = Phi(z),
[quality_low, quality_high] = Phi(z -/+ q sd(z)) with q the normal quantile of the interval.
A score depends only on the generation's own counts and the stored model, so labels of generations
without new events do not move unless the model does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.special import ndtr, ndtri

from features.debias import (
    completion_quantile,
    completion_quantile_grid,
    duration_bucket,
    duration_bucket_edges,
    effective_impressions,
    examination_curve,
    grid_edges,
)
from features.label_config import SIGNALS, LabelConfig
from features.smoothing import (
    GLOBAL_SEGMENT,
    fit_priors,
    posterior_moments,
    prior_moments,
    priors_moved,
)

# signal -> (successes column, trials column) of the generation-level inputs
SIGNAL_COUNTS: dict[str, tuple[str, str]] = {
    "view": ("views", "effective_impressions"),
    "completion": ("completion_sum", "views"),
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
DURATION_SEGMENTED: frozenset[str] = frozenset({"completion"})
"""Signals whose priors (and standardisation) are per duration bucket rather than per model_version."""

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

SCORE_DECIMALS: int = 9
"""Stored scores are rounded so a recomputation from the same counts writes the same values."""


@dataclass(frozen=True)
class LabelModel:
    """What the label run fits from all generations and stores: refit each run, adopted only if it moved."""

    examination: pl.DataFrame
    """surface, position, impressions, views, propensity"""
    completion_quantiles: pl.DataFrame
    """duration_bucket, min_duration_ms, level, value (also fixes the duration buckets)"""
    priors: pl.DataFrame
    """signal, segment, alpha, beta, generations, trials_scale"""


def generation_inputs(
    engagement: pl.DataFrame,
    slots: pl.DataFrame,
    examination: pl.DataFrame,
    edges: list[int],
    ratio_cap: float,
) -> pl.DataFrame:
    """Engagement plus effective_impressions (the COEC denominator), completion_sum and the duration segment."""
    effective = effective_impressions(slots, examination)
    return (
        engagement.join(effective, on="generation_id", how="left")
        .with_columns(
            pl.col("slotted_impressions").fill_null(0),
            pl.col("effective_slotted").fill_null(0.0),
        )
        .with_columns(
            effective_impressions=pl.col("effective_slotted")
            + (pl.col("impressions") - pl.col("slotted_impressions")).clip(lower_bound=0),
            completion_sum=pl.col("ratio_sum") / ratio_cap,
            duration_segment=pl.lit("duration_bucket_")
            + duration_bucket(pl.col("duration_ms"), edges).cast(pl.String),
        )
    )


def completion_trials_scale(inputs: pl.DataFrame, ratio_cap: float) -> float:
    """Pseudo-trials per view for completion: Bernoulli variance over the pooled within-generation variance of watch ratios.

    A view's capped watch ratio is a number in [0, 1] (after / cap), not a yes/no, so it says more
    about the generation's mean than a Bernoulli trial would; counting each view as this many trials
    keeps the Beta posterior's variance honest.
    """
    several = inputs.filter(pl.col("views") >= 2)
    views = float(inputs["views"].sum())
    if several.is_empty() or views <= 0:
        return 1.0
    mean = float(inputs["ratio_sum"].sum()) / views / ratio_cap
    within = several.select(
        (pl.col("ratio_sq_sum") - pl.col("ratio_sum") ** 2 / pl.col("views")).sum()
        / (pl.col("views") - 1).sum()
    ).item()
    if within is None or within <= 0 or not 0.0 < mean < 1.0:
        return 1.0
    return float(mean * (1.0 - mean) / (within / ratio_cap**2))


def signal_counts(inputs: pl.DataFrame, trials_scale: dict[str, float]) -> pl.DataFrame:
    """Long frame generation_id, segment, signal, successes, trials (scaled pseudo-counts).

    The segment is the model_version, or the duration bucket for duration-segmented signals.
    """
    parts = []
    for signal in SIGNALS:
        successes, trials = SIGNAL_COUNTS[signal]
        scale = trials_scale.get(signal, 1.0)
        segment = "duration_segment" if signal in DURATION_SEGMENTED else "model_version"
        parts.append(
            inputs.select(
                "generation_id",
                segment=pl.col(segment),
                signal=pl.lit(signal),
                successes=pl.col(successes).cast(pl.Float64) * scale,
                trials=pl.col(trials).cast(pl.Float64) * scale,
            )
        )
    return pl.concat(parts)


def posterior_completion(inputs: pl.DataFrame, priors: pl.DataFrame) -> pl.DataFrame:
    """generation_id, duration_ms and the posterior mean completion (null for generations without views)."""
    scale = _trials_scales(priors).get("completion", 1.0)
    counts = signal_counts(inputs.filter(pl.col("views") > 0), {"completion": scale}).filter(
        pl.col("signal") == "completion"
    )
    posterior = posterior_moments(counts, priors.drop("trials_scale"))
    return inputs.select("generation_id", "duration_ms").join(
        posterior.select("generation_id", completion="posterior_mean"),
        on="generation_id",
        how="left",
    )


def _trials_scales(priors: pl.DataFrame) -> dict[str, float]:
    return dict(
        priors.filter(pl.col("segment") == GLOBAL_SEGMENT)
        .select("signal", "trials_scale")
        .iter_rows()
    )


def fit_label_model(
    engagement: pl.DataFrame, slots: pl.DataFrame, config: LabelConfig
) -> LabelModel:
    """Fit the examination curve, the duration buckets, the Beta priors and the D2Q grid from every generation."""
    return fit_label_model_and_inputs(engagement, slots, config)[0]


def fit_label_model_and_inputs(
    engagement: pl.DataFrame, slots: pl.DataFrame, config: LabelConfig
) -> tuple[LabelModel, pl.DataFrame]:
    """The fitted model and the generation inputs under it (saves recomputing them when it is adopted)."""
    examination = examination_curve(
        slots,
        min_impressions=config.position_min_impressions,
        iterations=config.position_em_iterations,
    )
    edges = duration_bucket_edges(engagement["duration_ms"], config.duration_quantile_buckets)
    inputs = generation_inputs(engagement, slots, examination, edges, config.watch_ratio_cap)
    scales = {"completion": completion_trials_scale(inputs, config.watch_ratio_cap)}
    priors = fit_priors(
        signal_counts(inputs, scales),
        min_generations=config.prior_min_generations,
        min_strength=config.prior_min_strength,
        max_strength=config.prior_max_strength,
        max_rows=config.prior_fit_max_rows,
    ).with_columns(
        trials_scale=pl.col("signal").replace_strict(scales, default=1.0, return_dtype=pl.Float64)
    )
    grid = completion_quantile_grid(
        posterior_completion(inputs, priors).drop_nulls("completion"),
        edges,
        config.completion_quantile_levels,
    )
    return LabelModel(examination=examination, completion_quantiles=grid, priors=priors), inputs


def label_model_moved(old: LabelModel | None, new: LabelModel, tolerance: float) -> bool:
    """True when the refit differs from the stored model by more than `tolerance` anywhere it matters.

    Examination propensities and D2Q grid values compare by absolute difference; duration edges,
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
    grid_keys = ["duration_bucket", "level"]
    if (
        _max_abs_change(old.completion_quantiles, new.completion_quantiles, grid_keys, "value")
        > tolerance
    ):
        return True
    if priors_moved(old.priors, new.priors, tolerance):
        return True
    return (
        _max_relative_change(old.priors, new.priors, ["signal", "segment"], "trials_scale")
        > tolerance
    )


def _max_abs_change(old: pl.DataFrame, new: pl.DataFrame, keys: list[str], column: str) -> float:
    """Largest absolute change of `column` between frames keyed alike (inf if the keys differ)."""
    both = _aligned(old, new, keys, column)
    if both is None:
        return float("inf")
    if both.is_empty():
        return 0.0
    return float(both.select((pl.col(f"{column}_new") - pl.col(column)).abs().max()).item())


def _max_relative_change(
    old: pl.DataFrame, new: pl.DataFrame, keys: list[str], column: str
) -> float:
    """Largest relative change of `column` between frames keyed alike (inf if the keys differ)."""
    both = _aligned(old, new, keys, column)
    if both is None:
        return float("inf")
    if both.is_empty():
        return 0.0
    change = (pl.col(f"{column}_new") - pl.col(column)).abs() / pl.col(column).abs().clip(
        lower_bound=1e-12
    )
    return float(both.select(change.max()).item())


def _aligned(
    old: pl.DataFrame, new: pl.DataFrame, keys: list[str], column: str
) -> pl.DataFrame | None:
    if old.height != new.height:
        return None
    both = old.select(*keys, column).join(new.select(*keys, column), on=keys, suffix="_new")
    return both if both.height == old.height else None


def quality_scores(inputs: pl.DataFrame, model: LabelModel, config: LabelConfig) -> pl.DataFrame:
    """Per generation: quality_z and its posterior variance, quality_score, quality_low, quality_high, label."""
    posterior = posterior_moments(
        signal_counts(inputs, _trials_scales(model.priors)), model.priors.drop("trials_scale")
    )
    weights = config.weights()
    norm = float(np.sqrt(sum(w * w for w in weights.values())))
    if norm == 0:
        raise ValueError(
            "LabelConfig.signal_weights are all zero: no signal makes the quality score"
        )
    moments = prior_moments(model.priors).select("signal", "segment", "prior_mean", "prior_sd")
    reference = (
        posterior.select("generation_id", "signal", "segment")
        .with_columns(
            reference=pl.when(pl.col("signal").is_in(list(DURATION_SEGMENTED)))
            .then(pl.col("segment"))
            .otherwise(pl.lit(GLOBAL_SEGMENT))
        )
        .join(moments.rename({"segment": "reference"}), on=["signal", "reference"], how="left")
        .join(
            moments.filter(pl.col("segment") == GLOBAL_SEGMENT).select(
                "signal", global_mean="prior_mean", global_sd="prior_sd"
            ),
            on="signal",
            how="left",
        )
        .select(
            "generation_id",
            "signal",
            mean=pl.coalesce("prior_mean", "global_mean"),
            sd=pl.coalesce("prior_sd", "global_sd").clip(lower_bound=1e-12),
            weight=pl.col("signal").replace_strict(weights, return_dtype=pl.Float64),
        )
    )
    per_generation = (
        posterior.join(reference, on=["generation_id", "signal"])
        .group_by("generation_id")
        .agg(
            quality_z=(
                pl.col("weight") * (pl.col("posterior_mean") - pl.col("mean")) / pl.col("sd")
            ).sum()
            / norm,
            quality_z_var=(
                pl.col("weight") ** 2 * pl.col("posterior_var") / pl.col("sd") ** 2
            ).sum()
            / norm**2,
        )
        .sort("generation_id")
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


def label_rows(
    inputs: pl.DataFrame, scores: pl.DataFrame, model: LabelModel, label_version: str
) -> pl.DataFrame:
    """Rows of the `labels` table (without labeled_at): counts, D2Q completion_score, score, interval, label."""
    completion = posterior_completion(inputs, model.priors)
    completion_score = completion.select(
        "generation_id",
        completion_score=completion_quantile(completion, model.completion_quantiles),
    )
    return (
        inputs.join(scores, on="generation_id", how="left")
        .join(completion_score, on="generation_id", how="left")
        .with_columns(
            label_version=pl.lit(label_version),
            completion_score=pl.col("completion_score").round(SCORE_DECIMALS),
            effective_impressions=pl.col("effective_impressions").round(SCORE_DECIMALS),
        )
        .select(LABEL_COLUMNS)
        .sort("generation_id")
    )


def model_inputs(
    engagement: pl.DataFrame, slots: pl.DataFrame, model: LabelModel, config: LabelConfig
) -> pl.DataFrame:
    """generation_inputs under a given model (its examination curve and duration buckets)."""
    return generation_inputs(
        engagement,
        slots,
        model.examination,
        grid_edges(model.completion_quantiles),
        config.watch_ratio_cap,
    )
