"""Generation-level labels: fit the label model (Beta priors, D2Q grid), then score.

The examination curve is fitted and adopted earlier (see `features.label_pipeline.adopted_examination`):
the warehouse weights each impression by it, so engagement arrives with its effective impressions.

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
    completion_grid,
    completion_positions,
    duration_bucket_edges,
    duration_buckets,
    grid_edges,
)
from features.engagement import ENGAGEMENT_COLUMNS, FLOAT_COLUMNS
from features.label_config import SIGNALS, LabelConfig
from features.smoothing import (
    GLOBAL_SEGMENT,
    SegmentedCounts,
    fit_segmented_priors,
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

    completion_quantiles: pl.DataFrame
    """duration_bucket, min_duration_ms, level, value (also fixes the duration buckets)"""
    priors: pl.DataFrame
    """signal, segment, alpha, beta, generations, trials_scale"""


_COUNT_COLUMNS: tuple[str, ...] = tuple(
    c for c in ENGAGEMENT_COLUMNS if c not in ("generation_id", "watch_ms", "unlikes")
)
"""Engagement columns a label run reads as arrays (likes are already net of unlikes; effective_impressions
weighs each organic impression by the examination propensity of its slot)."""


@dataclass(frozen=True)
class LabelData:
    """What a run derives from its inputs once, whatever the model: engagement sorted by generation_id,
    its counts as arrays and its model_version segments."""

    engagement: pl.DataFrame
    counts: dict[str, np.ndarray]
    """Int64 array per count column of the engagement, Float64 for effective impressions and watch-ratio sums."""
    model_segment: np.ndarray
    """Index of each generation's model_version in `model_segments` (-1 where null)."""
    model_segments: tuple[str, ...]


@dataclass(frozen=True)
class GenerationInputs:
    """The generations under one model's duration buckets."""

    data: LabelData
    completion_sum: np.ndarray
    """Sum of the views' watch ratios over the cap (a view counts at most 1)."""
    duration_bucket: np.ndarray
    edges: list[int]

    @property
    def effective_impressions(self) -> np.ndarray:
        """The COEC denominator: organic impressions weighted by the examination propensity of their slot."""
        return self.data.counts["effective_impressions"]

    @property
    def frame(self) -> pl.DataFrame:
        """The engagement rows."""
        return self.data.engagement

    def column(self, name: str) -> np.ndarray:
        """A count column (effective_impressions included) or completion_sum as an array."""
        if name == "completion_sum":
            return self.completion_sum
        return self.data.counts[name]


def label_data(engagement: pl.DataFrame) -> LabelData:
    """The model-independent part of a run: sorted engagement, count arrays, segments."""
    if not engagement["generation_id"].is_sorted():
        engagement = engagement.sort("generation_id")
    counts = {
        name: engagement[name]
        .cast(pl.Float64 if name in FLOAT_COLUMNS else pl.Int64)
        .fill_null(0)
        .to_numpy()
        for name in _COUNT_COLUMNS
    }
    segments = tuple(engagement["model_version"].drop_nulls().unique().sort().to_list())
    model_segment = (
        engagement["model_version"]
        .cast(pl.Enum(segments))
        .to_physical()
        .cast(pl.Int64)
        .fill_null(-1)
        .to_numpy()
    )
    return LabelData(engagement, counts, model_segment, segments)


def inputs_under(data: LabelData, edges: list[int], ratio_cap: float) -> GenerationInputs:
    """The generations under duration bucket edges."""
    return GenerationInputs(
        data=data,
        completion_sum=data.counts["ratio_sum"] / ratio_cap,
        duration_bucket=duration_buckets(data.engagement["duration_ms"], edges),
        edges=edges,
    )


def completion_trials_scale(inputs: GenerationInputs, ratio_cap: float) -> float:
    """Pseudo-trials per view for completion: Bernoulli variance over the pooled within-generation variance of watch ratios.

    A view's capped watch ratio is a number in [0, 1] (after / cap), not a yes/no, so it says more
    about the generation's mean than a Bernoulli trial would; counting each view as this many trials
    keeps the Beta posterior's variance honest.
    """
    counts = inputs.data.counts
    views, ratio_sum = counts["views"], counts["ratio_sum"]
    several = views >= 2
    total_views = float(views.sum())
    if not several.any() or total_views <= 0:
        return 1.0
    mean = float(ratio_sum.sum()) / total_views / ratio_cap
    spread = counts["ratio_sq_sum"][several] - ratio_sum[several] ** 2 / views[several]
    within = float(spread.sum() / (views[several] - 1.0).sum())
    if within <= 0 or not 0.0 < mean < 1.0:
        return 1.0
    return float(mean * (1.0 - mean) / (within / ratio_cap**2))


def signal_counts(
    inputs: GenerationInputs, signal: str, trials_scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """(successes, trials) of one signal per generation, as scaled pseudo-counts (integer where unscaled counts are)."""
    successes, trials = SIGNAL_COUNTS[signal]
    if trials_scale == 1.0:
        return inputs.column(successes), inputs.column(trials)
    return inputs.column(successes) * trials_scale, inputs.column(trials) * trials_scale


def signal_segments(inputs: GenerationInputs, signal: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Each generation's segment for `signal` (index into the names) and the segment names."""
    if signal in DURATION_SEGMENTED:
        names = tuple(f"duration_bucket_{i}" for i in range(len(inputs.edges)))
        return inputs.duration_bucket.astype(np.int64), names
    return inputs.data.model_segment, inputs.data.model_segments


@dataclass(frozen=True)
class PriorTable:
    """A model's priors as a lookup: (signal, segment) -> alpha, beta, prior mean, prior sd; trials scale per signal."""

    rows: dict[tuple[str, str], tuple[float, float, float, float]]
    trials_scale: dict[str, float]

    @classmethod
    def of(cls, priors: pl.DataFrame) -> PriorTable:
        moments = prior_moments(priors)
        rows = {
            (signal, segment): (alpha, beta, mean, sd)
            for signal, segment, alpha, beta, mean, sd in moments.select(
                "signal", "segment", "alpha", "beta", "prior_mean", "prior_sd"
            ).iter_rows()
        }
        scales = (
            priors.filter(pl.col("segment") == GLOBAL_SEGMENT).select("signal", "trials_scale")
            if "trials_scale" in priors.columns
            else pl.DataFrame(schema={"signal": pl.String, "trials_scale": pl.Float64})
        )
        return cls(rows=rows, trials_scale=dict(scales.iter_rows()))

    def by_segment(self, signal: str, names: tuple[str, ...], field: int) -> np.ndarray:
        """One field (0 alpha, 1 beta, 2 mean, 3 sd) per segment name, the global prior's where a
        segment has none, plus the global one last (for generations without a segment, index -1)."""
        fallback = self.rows.get((signal, GLOBAL_SEGMENT))
        values = [self.rows.get((signal, name), fallback) for name in (*names, GLOBAL_SEGMENT)]
        return np.array([np.nan if v is None else v[field] for v in values], dtype=np.float64)


def posterior_moments_of(
    inputs: GenerationInputs, signal: str, priors: PriorTable
) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and variance of `signal` per generation under its segment's prior (else the global one)."""
    successes, trials = signal_counts(inputs, signal, priors.trials_scale.get(signal, 1.0))
    code, names = signal_segments(inputs, signal)
    alpha = priors.by_segment(signal, names, 0)[code]
    beta = priors.by_segment(signal, names, 1)[code]
    observed = np.clip(np.minimum(successes, trials), 0.0, None)
    post_alpha = alpha + observed
    post_beta = beta + trials - observed
    strength = post_alpha + post_beta
    return post_alpha / strength, post_alpha * post_beta / (strength**2 * (strength + 1.0))


def posterior_completion(inputs: GenerationInputs, priors: PriorTable) -> np.ndarray:
    """Posterior mean completion per generation (NaN for generations without views)."""
    mean, _ = posterior_moments_of(inputs, "completion", priors)
    return np.where(inputs.column("views") > 0, mean, np.nan)


def fitted_label_model(data: LabelData, config: LabelConfig) -> tuple[LabelModel, GenerationInputs]:
    """The fitted model and the generation inputs under it (saves recomputing them when it is adopted)."""
    edges = duration_bucket_edges(data.engagement["duration_ms"], config.duration_quantile_buckets)
    inputs = inputs_under(data, edges, config.watch_ratio_cap)
    scales = {"completion": completion_trials_scale(inputs, config.watch_ratio_cap)}
    counts = []
    for signal in SIGNALS:
        successes, trials = signal_counts(inputs, signal, scales.get(signal, 1.0))
        segment, names = signal_segments(inputs, signal)
        counts.append(SegmentedCounts(signal, successes, trials, segment, names))
    priors = fit_segmented_priors(
        counts,
        min_generations=config.prior_min_generations,
        min_strength=config.prior_min_strength,
        max_strength=config.prior_max_strength,
        max_rows=config.prior_fit_max_rows,
        newton_steps=config.prior_newton_steps,
        step_tolerance=config.prior_step_tolerance,
        warm_rows=config.prior_warm_start_rows,
    ).with_columns(
        trials_scale=pl.col("signal").replace_strict(scales, default=1.0, return_dtype=pl.Float64)
    )
    completion = posterior_completion(inputs, PriorTable.of(priors))
    observed = ~np.isnan(completion)
    grid = completion_grid(
        completion[observed],
        inputs.duration_bucket[observed],
        edges,
        config.completion_quantile_levels,
    )
    return LabelModel(completion_quantiles=grid, priors=priors), inputs


def label_model_moved(old: LabelModel | None, new: LabelModel, tolerance: float) -> bool:
    """True when the refit differs from the stored model by more than `tolerance` anywhere it matters.

    D2Q grid values compare by absolute difference; duration edges, prior means and sds and trials
    scales relatively.
    """
    if old is None:
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


def examination_moved(old: pl.DataFrame | None, new: pl.DataFrame, tolerance: float) -> bool:
    """True when a refit examination curve differs from the adopted one by more than `tolerance` (absolute)."""
    if old is None:
        return True
    return _max_abs_change(old, new, ["surface", "position"], "propensity") > tolerance


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


def quality_scores(
    inputs: GenerationInputs, model: LabelModel, config: LabelConfig
) -> pl.DataFrame:
    """Per generation (sorted by id): quality_z and its posterior variance, quality_score, quality_low, quality_high, label."""
    weights = config.weights()
    norm = float(np.sqrt(sum(w * w for w in weights.values())))
    if norm == 0:
        raise ValueError(
            "LabelConfig.signal_weights are all zero: no signal makes the quality score"
        )
    priors = PriorTable.of(model.priors)
    size = inputs.effective_impressions.size
    z, z_var = np.zeros(size), np.zeros(size)
    for signal in SIGNALS:
        posterior_mean, posterior_var = posterior_moments_of(inputs, signal, priors)
        # the reference: the signal's global prior (its duration bucket's for completion)
        if signal in DURATION_SEGMENTED:
            code, names = signal_segments(inputs, signal)
            mean = priors.by_segment(signal, names, 2)[code]
            sd = np.clip(priors.by_segment(signal, names, 3), 1e-12, None)[code]
        else:
            mean = priors.by_segment(signal, (), 2)[0]
            sd = max(float(priors.by_segment(signal, (), 3)[0]), 1e-12)
        weight = weights[signal]
        z += weight * (posterior_mean - mean) / sd
        z_var += weight**2 * posterior_var / sd**2
    z /= norm
    z_var /= norm**2
    z_sd = np.sqrt(z_var)
    half_width = float(ndtri(0.5 + config.interval_probability / 2.0))
    scored = pl.DataFrame(
        {
            "generation_id": inputs.data.engagement["generation_id"],
            "quality_z": z,
            "quality_z_var": z_var,
            "quality_score": ndtr(z),
            "quality_low": ndtr(z - half_width * z_sd),
            "quality_high": ndtr(z + half_width * z_sd),
        }
    ).with_columns(pl.col("quality_score", "quality_low", "quality_high").round(SCORE_DECIMALS))
    return scored.with_columns(
        label=pl.when(pl.col("quality_low") >= config.good_min_low)
        .then(pl.lit("good"))
        .when(pl.col("quality_high") <= config.bad_max_high)
        .then(pl.lit("bad"))
        .otherwise(pl.lit("uncertain"))
    )


def label_rows(
    inputs: GenerationInputs, scores: pl.DataFrame, model: LabelModel, label_version: str
) -> pl.DataFrame:
    """Rows of the `labels` table (without labeled_at), sorted by generation_id: counts, D2Q completion_score, score, interval, label.

    `scores` holds the `quality_scores` of the same generations.
    """
    ids = inputs.data.engagement["generation_id"]
    if not scores["generation_id"].equals(ids):
        scores = pl.DataFrame({"generation_id": ids}).join(
            scores, on="generation_id", how="left", maintain_order="left"
        )
    completion = posterior_completion(inputs, PriorTable.of(model.priors))
    completion_score = completion_positions(
        completion, inputs.duration_bucket, model.completion_quantiles
    )
    return (
        inputs.frame.with_columns(
            scores.select("quality_score", "quality_low", "quality_high", "label"),
            label_version=pl.lit(label_version),
            completion_score=pl.Series(completion_score, dtype=pl.Float64)
            .fill_nan(None)
            .round(SCORE_DECIMALS),
        )
        .with_columns(pl.col("effective_impressions").round(SCORE_DECIMALS))
        .select(LABEL_COLUMNS)
    )


def model_inputs(data: LabelData, model: LabelModel, config: LabelConfig) -> GenerationInputs:
    """The generations under a given model (its duration buckets)."""
    return inputs_under(data, grid_edges(model.completion_quantiles), config.watch_ratio_cap)
