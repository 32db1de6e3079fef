"""Fit the label model (features.label_model) from the full data and its two viewer halves."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import polars as pl

from features.debias import duration_bucket_edges, duration_buckets
from features.label_beta_binomial import population_variances
from features.label_config import LabelConfig
from features.label_factor import (
    HalfResiduals,
    cross_half_covariance,
    fit_loadings,
    noise_structure,
    persistent_covariance,
    population_floor,
)
from features.label_interval import interval_scales
from features.label_model import (
    Design,
    LabelModel,
    evidence_of,
    exposure_groups,
    intercepts_of,
    prior_means_of,
    rates_for_variance,
    segments_of,
)
from features.label_posterior import information
from features.label_prior import gls_effects, group_columns
from features.label_select_direction import (
    STUDIO_COLUMNS,
    PersistentLimits,
    SelectTilt,
    SelectVotes,
    select_tilt,
    select_votes,
    voter_folds,
)
from features.label_signals import (
    DURATION_SIGNALS,
    SignalCounts,
    completion_unit_scale,
    known_duration,
    present_signals,
    signal_counts,
    unit_variance,
)

INITIAL_BETWEEN_SHARE: float = 0.1
"""Before the first covariance, each signal's long-run variance is guessed as this share of its unit variance."""
MAX_SHRINK_STRENGTH: float = 1e7


@dataclass(frozen=True)
class FitData:
    """The counts a fit reads, rows aligned (sorted by generation_id): all data and each viewer half."""

    full: SignalCounts
    half_a: SignalCounts
    half_b: SignalCounts
    segments: tuple[str, ...]
    edges: tuple[int, ...]
    exposure_edges: tuple[int, ...]
    design: Design
    completion_scale: float
    sample: np.ndarray
    """Rows on which the interval is measured (a fixed, quality-blind subset)."""
    fitted: np.ndarray
    """Rows on which the signal parameters are estimated (a fixed subset holding `sample`)."""
    votes: SelectVotes | None = None
    """The studio's selects among the rows (None: the frame records no studio)."""

    def rows(self, keep: np.ndarray) -> FitData:
        """The same fit data on the generations of the `keep` mask."""
        return replace(
            self,
            full=self.full.rows(keep),
            half_a=self.half_a.rows(keep),
            half_b=self.half_b.rows(keep),
            design=self.design.rows(keep),
            sample=self.sample[keep],
            fitted=self.fitted[keep],
            votes=None,
        )


def fit_data(
    full: pl.DataFrame,
    half_a: pl.DataFrame,
    half_b: pl.DataFrame,
    config: LabelConfig,
    sample: np.ndarray | None = None,
    fitted: np.ndarray | None = None,
) -> FitData:
    """Counts, model_version segments and duration buckets of aligned engagement frames (`sample`: the
    rows the interval is measured on, `fitted`: those the signal parameters are estimated on; all
    without them)."""
    segments = tuple(full["model_version"].drop_nulls().cast(pl.String).unique().sort().to_list())
    known = known_duration(full, config)
    edges = duration_bucket_edges(
        full.filter(pl.Series(known))["duration_ms"], config.duration_quantile_buckets
    )
    exposure_edges = tuple(duration_bucket_edges(full["impressions"], config.prior_exposure_groups))
    bucket = duration_buckets(full["duration_ms"], edges).astype(np.int64)
    return FitData(
        full=signal_counts(full, config),
        half_a=signal_counts(half_a, config),
        half_b=signal_counts(half_b, config),
        segments=segments,
        edges=tuple(edges),
        exposure_edges=exposure_edges,
        design=Design(
            segments_of(full, segments),
            np.where(known, bucket, -1),
            exposure_groups(full, exposure_edges),
        ),
        completion_scale=completion_unit_scale(full, config),
        sample=np.ones(full.height, dtype=bool) if sample is None else sample,
        fitted=np.ones(full.height, dtype=bool) if fitted is None else fitted,
        votes=select_votes(full, config.select_folds, config.select_max_votes)
        if set(STUDIO_COLUMNS) <= set(full.columns)
        else None,
    )


def _weighted_mean(
    values: np.ndarray, weights: np.ndarray, group: np.ndarray, groups: int
) -> np.ndarray:
    """Weighted mean of `values` per group (NaN where a group has no weight)."""
    top = np.bincount(group, weights=weights * values, minlength=groups)
    bottom = np.bincount(group, weights=weights, minlength=groups)
    return np.divide(top, bottom, out=np.full(groups, np.nan), where=bottom > 0)


def _intercepts(
    model: LabelModel, counts: SignalCounts, design: Design, precision: bool = True
) -> np.ndarray:
    """K x buckets intercepts: precision-weighted mean rates (without `precision`: every generation
    weighs the same), per duration bucket for duration-driven signals (a long video is not worse for
    being watched less of: its bucket is its reference)."""
    if precision:
        evidence = evidence_of(model, counts, design)
        weight = np.where(
            counts.observed, 1.0 / (model.long_run_variance[None, :] + evidence.noise_variance), 0.0
        )
    else:
        weight = counts.observed.astype(np.float64)
    rates = counts.rates()
    buckets = len(model.duration_edges)
    group = np.where(design.bucket >= 0, design.bucket, buckets)
    everyone = np.zeros_like(group)
    intercept = np.empty_like(model.intercept)
    for k, signal in enumerate(model.signals):
        pooled = _weighted_mean(rates[:, k], weight[:, k], everyone, 1)[0]
        if signal in DURATION_SIGNALS:
            means = _weighted_mean(rates[:, k], weight[:, k], group, buckets + 1)[:buckets]
            intercept[k] = np.where(np.isfinite(means), means, pooled)
        else:
            intercept[k] = pooled
    return np.nan_to_num(intercept, nan=0.0)


def _pooled_intercepts(counts: SignalCounts, design: Design, buckets: int) -> np.ndarray:
    """K x buckets pooled rates (per bucket for duration-driven signals): the first pass's intercepts."""
    group = np.where(design.bucket >= 0, design.bucket, buckets)
    intercept = np.empty((len(counts.signals), buckets))
    for k, signal in enumerate(counts.signals):
        s, n = counts.successes[:, k], counts.trials[:, k]
        pooled = float(s.sum() / n.sum()) if n.sum() > 0 else 0.0
        if signal in DURATION_SIGNALS:
            top = np.bincount(group, weights=s, minlength=buckets + 1)[:buckets]
            bottom = np.bincount(group, weights=n, minlength=buckets + 1)[:buckets]
            intercept[k] = np.divide(top, bottom, out=np.full(buckets, pooled), where=bottom > 0)
        else:
            intercept[k] = pooled
    return intercept


def _half_residuals(model: LabelModel, data: FitData) -> tuple[HalfResiduals, np.ndarray]:
    """Both halves' residuals and precision weights, and the full data's unit variances."""
    intercept = intercepts_of(model, data.design)
    rates = rates_for_variance(data.full, intercept, model.shrink_strength)
    unit = unit_variance(model.signals, rates, data.full.examination, model.unit_scale)
    weights = []
    for half in (data.half_a, data.half_b):
        trials = np.where(half.observed, half.trials, 1.0)
        noise = model.dispersion[None, :] * unit / trials
        weights.append(
            np.where(half.observed, 1.0 / (model.long_run_variance[None, :] + noise), 0.0)
        )
    residual_a, residual_b = data.half_a.residuals(intercept), data.half_b.residuals(intercept)
    return HalfResiduals(residual_a, residual_b, weights[0], weights[1]), unit


def _population_variance(model: LabelModel, data: FitData) -> np.ndarray:
    """Each signal's cross-half variance with every generation weighing the same: how much its
    long-run rate varies over all the generations, not only the well-shown ones."""
    intercept = intercepts_of(model, data.design)
    equal = HalfResiduals(
        data.half_a.residuals(intercept),
        data.half_b.residuals(intercept),
        data.half_a.observed.astype(np.float64),
        data.half_b.observed.astype(np.float64),
    )
    covariance, _ = cross_half_covariance(equal)
    return np.diag(covariance)


def _balanced_variance(model: LabelModel, population: np.ndarray) -> np.ndarray:
    """Each signal's long-run variance for the precision weights: at least its `population` variance.
    Precision weights saturate where sampling noise falls below the long-run variance; an
    underestimate would hand the weight to the most-shown generations, a selected few (the best,
    where a rare signal hardly varies), and the estimate would confirm itself.
    """
    return np.maximum(model.long_run_variance, population)


def _noise(
    data: FitData, unit: np.ndarray, strength: np.ndarray, config: LabelConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Dispersion and noise correlation from the half differences."""
    a, b = data.half_a, data.half_b
    both = a.observed & b.observed
    inverse = np.where(
        both, 1.0 / np.where(both, a.trials, 1.0) + 1.0 / np.where(both, b.trials, 1.0), 0.0
    )
    own = data.full.trials / (data.full.trials + strength[None, :])
    return noise_structure(a.rates() - b.rates(), unit * inverse, both, own, config)


def _strength(model: LabelModel) -> np.ndarray:
    """Trials at which a signal's sampling variance equals its long-run variance (at the intercept)."""
    centre = model.intercept.mean(axis=1, keepdims=True).T
    unit = unit_variance(model.signals, centre, np.ones(1), model.unit_scale)[0]
    return np.clip(unit / np.clip(model.long_run_variance, 1e-300, None), 1.0, MAX_SHRINK_STRENGTH)


def _start(data: FitData, signals: tuple[str, ...]) -> LabelModel:
    """The model the first pass starts from: pooled intercepts, binomial noise, no loadings."""
    k = len(signals)
    unit_scale = np.array([data.completion_scale if s == "completion" else 1.0 for s in signals])
    counts = data.full.restricted(signals)
    intercept = _pooled_intercepts(counts, data.design, len(data.edges))
    centre = intercept.mean(axis=1, keepdims=True).T
    between = INITIAL_BETWEEN_SHARE * unit_variance(signals, centre, np.ones(1), unit_scale)[0]
    model = LabelModel(
        signals=signals,
        duration_edges=data.edges,
        intercept=intercept,
        loading=np.zeros(k),
        long_run_variance=between,
        persistent=np.diag(between),
        dispersion=np.ones(k),
        noise_correlation=np.eye(k),
        unit_scale=unit_scale,
        shrink_strength=np.ones(k),
        segments=data.segments,
        exposure_edges=data.exposure_edges,
        prior_effects=np.zeros(1 + len(data.segments) + len(data.exposure_edges)),
        prior_variance=1.0,
    )
    return replace(model, shrink_strength=_strength(model))


def _restricted(data: FitData, signals: tuple[str, ...]) -> FitData:
    """The fit data of `signals` only."""
    return replace(
        data,
        full=data.full.restricted(signals),
        half_a=data.half_a.restricted(signals),
        half_b=data.half_b.restricted(signals),
    )


def _dependent(signals: tuple[str, ...], config: LabelConfig) -> tuple[tuple[int, int], ...]:
    """The config's dependent pairs among `signals`, as index pairs."""
    return tuple(
        (signals.index(a), signals.index(b))
        for a, b in config.dependent_pairs
        if a in signals and b in signals
    )


def copies(
    signals: tuple[str, ...], covariance: np.ndarray, noise: np.ndarray, threshold: float
) -> tuple[str, ...]:
    """Signals that repeat an earlier one: their long-run rates (cross-half correlation) and their
    sampling noise both correlate beyond `threshold` with it (one measurement, counted once)."""
    sd = np.sqrt(np.clip(np.diag(covariance), 1e-300, None))
    persistent = covariance / np.outer(sd, sd)
    repeated = []
    for later in range(len(signals)):
        for earlier in range(later):
            same = persistent[earlier, later] > threshold and noise[earlier, later] > threshold
            if same and signals[earlier] not in repeated:
                repeated.append(signals[later])
                break
    return tuple(repeated)


def fit_label_model(data: FitData, config: LabelConfig) -> tuple[LabelModel, SelectTilt | None]:
    """The label model of the data (see features.label_model) and what the selects did to it (None
    without selects); a signal too thin on the fitted rows to be estimated, or that merely repeats
    another, is left out (the fit restarted without it)."""
    signals = present_signals(data.full.rows(data.fitted), config)
    return _fit_signals(_restricted(data, signals), signals, config)


def _fit_signals(
    data: FitData, signals: tuple[str, ...], config: LabelConfig
) -> tuple[LabelModel, SelectTilt | None]:
    """The fit of `signals` (data restricted to them): the signal parameters on the fitted rows, the
    quality direction the selects prefer, intercepts as plain means over the fitted generations (the
    passes' precision-weighted ones lean on the most-shown videos: an offset the long-run label would
    read as quality), then the prior and the interval; a signal that repeats another is dropped and
    the fit restarted."""
    fitted = data if data.fitted.all() else data.rows(data.fitted)
    model, repeated = _signal_parameters(fitted, signals, config)
    if repeated:
        kept = tuple(s for s in signals if s not in repeated)
        return _fit_signals(_restricted(data, kept), kept, config)
    if not signals:
        return model, None
    model = replace(model, residual_dof=config.residual_dof, robust_rounds=config.robust_rounds)
    model, tilt = _select_tilted(model, data, fitted, config)
    model = replace(
        model, intercept=_intercepts(model, fitted.full, fitted.design, precision=False)
    )
    model = _with_prior(model, data, config)
    sampled = data.rows(data.sample)
    scale = interval_scales(
        model, sampled.full, sampled.half_a, sampled.half_b, sampled.design, config
    )
    return replace(model, interval_scale=scale), tilt


def _signal_parameters(
    data: FitData, signals: tuple[str, ...], config: LabelConfig
) -> tuple[LabelModel, tuple[str, ...]]:
    """(the model's intercepts, loadings, persistent and noise covariance after `fit_passes` rounds,
    the signals found repeating an earlier one: then the model is unfinished)."""
    model = _start(data, signals)
    if not signals:
        return model, ()
    orientation = np.array([config.orientation()[s] for s in signals])
    spread = config.population_floor_share * population_variances(data.full, data.design.bucket)
    for _ in range(config.fit_passes):
        population = _population_variance(model, data)
        model = replace(model, long_run_variance=_balanced_variance(model, population))
        halves, unit = _half_residuals(model, data)
        covariance, se = cross_half_covariance(halves)
        dispersion, correlation = _noise(data, unit, model.shrink_strength, config)
        repeated = copies(signals, covariance, correlation, config.copy_correlation)
        if repeated:
            return model, repeated
        trials = np.where(data.full.observed, data.full.trials, np.nan)
        typical = np.nanmedian(model.dispersion[None, :] * unit / trials, axis=0)
        floor = config.residual_floor * np.nan_to_num(typical, nan=0.0) + 1e-300
        loadings = fit_loadings(covariance, se, orientation, config, _dependent(signals, config))
        least = population_floor(floor, spread, loadings.loading)
        model = replace(
            model,
            loading=loadings.loading,
            long_run_variance=np.maximum(np.diag(covariance), floor),
            persistent=persistent_covariance(covariance, se, loadings, least, config),
            dispersion=dispersion,
            noise_correlation=correlation,
        )
        model = replace(model, shrink_strength=_strength(model))
        model = replace(model, intercept=_intercepts(model, data.full, data.design))
    return model, ()


def _select_tilted(
    model: LabelModel, data: FitData, fitted: FitData, config: LabelConfig
) -> tuple[LabelModel, SelectTilt | None]:
    """The model with the quality direction the studio's selects prefer, where they favour one
    (features.label_select_direction), and the tilt with its folds by row of `data`; as it is and
    None without selects."""
    if data.votes is None:
        return model, None
    voters = data.votes.voters
    tilt = select_tilt(
        model.factor,
        evidence_of(model, data.full.rows(voters), data.design.rows(voters)),
        data.votes.within(voters),
        np.sqrt(_balanced_variance(model, _population_variance(model, fitted))),
        config.select_ridges,
        config.select_min_votes,
        PersistentLimits(config.max_quality_share, config.residual_eigen_floor),
    )
    tilted = replace(model, loading=tilt.factor.loading, persistent=tilt.factor.persistent)
    return tilted, replace(tilt, fold=voter_folds(data.votes))


def _with_prior(model: LabelModel, data: FitData, config: LabelConfig) -> LabelModel:
    """The model with its prior of quality by model_version and exposure (features.label_prior); a
    group with fewer than `prior_min_generations` generations with evidence has no effect of its own."""
    evidence = evidence_of(model, data.full, data.design)
    info, weighted = information(
        model.factor, evidence, prior_means_of(model, data.design), model.prior_variance
    )
    segments, exposures = len(model.segments), len(model.exposure_edges)
    columns = [np.ones(info.size)]
    usable = []
    for group, groups in ((data.design.segment, segments), (data.design.exposure, exposures)):
        inside = np.where(group >= 0, group, groups)
        size = np.bincount(inside, weights=info > 0, minlength=groups + 1)[:groups]
        usable.append(size >= config.prior_min_generations)
        columns.append(group_columns(group, groups, usable[-1]))
    effects, variance = gls_effects(
        weighted, info, np.column_stack(columns), config.prior_var_bounds
    )
    full = np.zeros(1 + segments + exposures)
    full[np.concatenate([[True], *usable])] = effects
    return replace(model, prior_effects=full, prior_variance=variance)
