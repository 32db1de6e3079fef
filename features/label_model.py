"""The label model: one latent quality per generation, every signal a noisy linear image of it,
fitted from the data of each run (see features.label_factor for the estimation, features.label_posterior
for the scores).

Fitting, in `fit_passes` rounds: sampling variances at each generation's rate shrunk toward its
intercept -> cross-half covariance -> loadings, persistent covariance -> sampling dispersion and noise
correlation -> intercepts (duration-driven signals per duration bucket: the duration bias goes)
-> the quality direction turned toward the studio's selects where they favour another
(features.label_select_direction) -> the prior of quality by model_version and exposure
(features.label_prior) -> the long-run
interval's scale per exposure group, measured from the viewer halves (features.label_interval).

Hand-set `signal_orientation` only decides which end of the factor is "good".
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import polars as pl
from scipy.special import expit, ndtr

from features.debias import duration_buckets
from features.label_config import LabelConfig
from features.label_posterior import Evidence, FactorParameters, Posterior, long_run_mean, posterior
from features.label_prior import group_columns
from features.label_signals import (
    RATE_FLOOR,
    SignalCounts,
    known_duration,
    unit_variance,
)

MAX_EXPONENT: float = 30.0
"""Bound on the exponent of a predicted rate (`predicted_rates`): exp stays finite, far past any rate."""


@dataclass(frozen=True)
class LabelModel:
    """A fitted label model: everything needed to score any generation's counts."""

    signals: tuple[str, ...]
    duration_edges: tuple[int, ...]
    """Lower edges of the duration buckets (the first is 0)."""
    intercept: np.ndarray
    """K x buckets: each signal's mean rate at average quality (the same in every bucket unless duration-driven)."""
    loading: np.ndarray
    long_run_variance: np.ndarray
    """Each signal's between-generation variance of its long-run rate (cross-half covariance diagonal)."""
    persistent: np.ndarray
    """Psi, K x K."""
    dispersion: np.ndarray
    noise_correlation: np.ndarray
    unit_scale: np.ndarray
    """Per-trial variance multiplier (completion: a capped ratio varies less than a yes/no)."""
    shrink_strength: np.ndarray
    """Trials' worth of the intercept mixed into a generation's rate where its sampling variance is
    first evaluated (and the fit's precision weights read it)."""
    segments: tuple[str, ...]
    """The model_versions with a prior effect of their own."""
    exposure_edges: tuple[int, ...]
    """Lower edges (feed impressions) of the exposure groups of the prior."""
    prior_effects: np.ndarray
    """Prior mean of quality = intercept + effect of the model_version + effect of the exposure group
    (1 + segments + exposure groups values; 0 for a group without evidence)."""
    prior_variance: float
    """Variance of quality around its prior mean."""

    residual_dof: float = float("inf")
    robust_rounds: int = 0
    interval_scale: np.ndarray | None = None
    """Per exposure group: the factor on Var(L | y) measured from the viewer halves
    (features.label_interval); None: 1 everywhere."""

    def interval_scales(self, exposure: np.ndarray) -> np.ndarray:
        """The interval's variance factor of each generation's exposure group."""
        if self.interval_scale is None:
            return np.ones(exposure.size)
        return self.interval_scale[np.clip(exposure, 0, self.interval_scale.size - 1)]

    @property
    def factor(self) -> FactorParameters:
        return FactorParameters(
            self.loading,
            self.persistent,
            self.noise_correlation,
            self.residual_dof,
            self.robust_rounds,
        )

    @property
    def model_variance(self) -> np.ndarray:
        """Each signal's long-run variance as the model has it: b_k^2 + Psi_kk, or the cross-half
        variance if larger (Psi carries its margin and floors, so it can exceed the cross-half one)."""
        return np.maximum(self.long_run_variance, self.loading**2 + np.diag(self.persistent))

    @property
    def quality_share(self) -> np.ndarray:
        """b_k^2 / `model_variance`: how much of each signal's persistent variation the model takes
        as quality (never more than 1)."""
        total = self.model_variance
        return np.divide(self.loading**2, total, out=np.zeros_like(self.loading), where=total > 0)


@dataclass(frozen=True)
class Design:
    """Each generation's model_version segment, duration bucket (-1: unknown) and exposure group."""

    segment: np.ndarray
    bucket: np.ndarray
    exposure: np.ndarray

    def rows(self, keep: np.ndarray) -> Design:
        """The design of the generations of the `keep` mask."""
        return Design(self.segment[keep], self.bucket[keep], self.exposure[keep])


def segments_of(frame: pl.DataFrame, segments: tuple[str, ...]) -> np.ndarray:
    """Index of each generation's model_version in `segments` (-1 if not there)."""
    return (
        frame["model_version"]
        .cast(pl.String)
        .replace_strict(segments, list(range(len(segments))), default=-1)
        .cast(pl.Int64)
        .to_numpy()
    )


def exposure_groups(frame: pl.DataFrame, edges: tuple[int, ...], scale: float = 1.0) -> np.ndarray:
    """Exposure group of each generation: its feed impressions (times `scale`: a part of the data is
    put on the whole's scale) against the lower `edges`."""
    impressions = frame["impressions"].cast(pl.Float64).fill_null(0.0).to_numpy() * scale
    return (
        np.searchsorted(np.asarray(edges[1:], dtype=np.float64), impressions, side="right")
    ).astype(np.int64)


def design_of(
    frame: pl.DataFrame, model: LabelModel, config: LabelConfig, exposure_scale: float = 1.0
) -> Design:
    """The segments, duration buckets and exposure groups of the generations in `frame` under `model`."""
    bucket = duration_buckets(frame["duration_ms"], list(model.duration_edges)).astype(np.int64)
    return Design(
        segment=segments_of(frame, model.segments),
        bucket=np.where(known_duration(frame, config), bucket, -1),
        exposure=exposure_groups(frame, model.exposure_edges, exposure_scale),
    )


def intercepts_of(model: LabelModel, design: Design) -> np.ndarray:
    """N x K intercepts (bucket 0's where the duration is unknown: those signals are unobserved)."""
    return model.intercept[:, np.clip(design.bucket, 0, None)].T


def rates_for_variance(
    counts: SignalCounts, intercept: np.ndarray, strength: np.ndarray
) -> np.ndarray:
    """The rate each generation's sampling variance is first evaluated at (the posterior's rounds then
    read it at the predicted rates): its own rate shrunk toward its intercept by `strength` trials
    (a raw 0 of 3 must not claim no variance at all)."""
    return (counts.successes + strength[None, :] * intercept) / (counts.trials + strength[None, :])


def predicted_rates(
    signals: tuple[str, ...], intercept: np.ndarray, loading: np.ndarray, quality: np.ndarray
) -> np.ndarray:
    """len(quality) x K rates the model predicts at `quality`, each with the linear model's slope b
    at its intercept a: a yes/no rate on the logistic curve through a (it stays inside (0, 1): a
    rate near 1 would claim no noise), the view rate (per effective impression, unbounded above)
    as a exp(b q / a)."""
    slope = loading[None, :] * quality[:, None]
    inside = np.clip(intercept, RATE_FLOOR, 1.0 - RATE_FLOOR)
    logit = np.clip(slope / (inside * (1.0 - inside)), -MAX_EXPONENT, MAX_EXPONENT)
    rates = expit(np.log(inside / (1.0 - inside)) + logit)
    view = [k for k, signal in enumerate(signals) if signal == "view"]
    if view:
        positive = np.clip(intercept[:, view], RATE_FLOOR, None)
        growth = np.clip(slope[:, view] / positive, -MAX_EXPONENT, MAX_EXPONENT)
        rates[:, view] = positive * np.exp(growth)
    return rates


def persistent_scales(
    signals: tuple[str, ...], intercept: np.ndarray, loading: np.ndarray, quality: np.ndarray
) -> np.ndarray:
    """len(quality) x K factors on Psi at the rates `quality` predicts (`predicted_rates`): a rate
    bounded by 1 (a yes/no signal's, completion's capped ratio) spreads as a Beta's does, p (1 - p)
    over its a (1 - a) at the intercept, where Psi is read (a rare rate spreads more where it is
    higher: a bad generation's dislikes and reports vary more than a good one's); the view rate per
    effective impression has no such bound and keeps its own (1)."""
    view = np.array([s == "view" for s in signals])[None, :]
    rates = np.clip(
        predicted_rates(signals, intercept, loading, quality), RATE_FLOOR, 1.0 - RATE_FLOOR
    )
    inside = np.clip(intercept, RATE_FLOOR, 1.0 - RATE_FLOOR)
    return np.where(view, 1.0, rates * (1.0 - rates) / (inside * (1.0 - inside)))


@dataclass(frozen=True)
class PersistentScale:
    """Each generation's factors on Psi (`persistent_scales`) at a quality, rows as `intercept`."""

    signals: tuple[str, ...]
    intercept: np.ndarray
    loading: np.ndarray

    def at_quality(self, part: slice, quality: np.ndarray) -> np.ndarray:
        """The factors of the rows `part` at the rates their `quality` predicts."""
        return persistent_scales(self.signals, self.intercept[part], self.loading, quality)


@dataclass(frozen=True)
class SamplingVariance:
    """Each generation's sampling variance of every signal at a given rate (N x K inputs)."""

    signals: tuple[str, ...]
    intercept: np.ndarray
    loading: np.ndarray
    trials: np.ndarray
    examination: np.ndarray
    dispersion: np.ndarray
    unit_scale: np.ndarray

    def at_rates(self, part: slice, rates: np.ndarray) -> np.ndarray:
        """The variances of the rows `part` at `rates`."""
        unit = unit_variance(self.signals, rates, self.examination[part], self.unit_scale)
        return self.dispersion[None, :] * unit / self.trials[part]

    def at_quality(self, part: slice, quality: np.ndarray) -> np.ndarray:
        """The variances of the rows `part` at the rates their `quality` predicts."""
        rates = predicted_rates(self.signals, self.intercept[part], self.loading, quality)
        return self.at_rates(part, rates)


def evidence_of(model: LabelModel, counts: SignalCounts, design: Design) -> Evidence:
    """Residual rates and sampling variances of `counts` (columns: the model's signals) under `model`:
    first at each generation's own rate shrunk toward the intercept, then (the posterior's rounds) at
    the rates its current quality predicts, where the rounds also read Psi's `persistent_scales`."""
    intercept = intercepts_of(model, design)
    variance = SamplingVariance(
        model.signals,
        intercept,
        model.loading,
        np.where(counts.observed, counts.trials, 1.0),
        counts.examination,
        model.dispersion,
        model.unit_scale,
    )
    own = rates_for_variance(counts, intercept, model.shrink_strength)
    return Evidence(
        residual=counts.rates() - intercept,
        noise_variance=variance.at_rates(slice(None), own),
        observed=counts.observed,
        observable=counts.observable,
        noise_variance_at=variance.at_quality,
        persistent_scale_at=PersistentScale(model.signals, intercept, model.loading).at_quality,
    )


def prior_design(design: Design, segments: int, exposures: int) -> np.ndarray:
    """The prior's design matrix: intercept, model_version one-hot, exposure group one-hot."""
    every_segment = np.ones(segments, dtype=bool)
    every_exposure = np.ones(exposures, dtype=bool)
    return np.column_stack(
        [
            np.ones(design.segment.size),
            group_columns(design.segment, segments, every_segment),
            group_columns(design.exposure, exposures, every_exposure),
        ]
    )


def prior_means_of(model: LabelModel, design: Design) -> np.ndarray:
    """Each generation's prior mean of quality (an unknown model_version has no effect of its own)."""
    matrix = prior_design(design, len(model.segments), len(model.exposure_edges))
    return matrix @ model.prior_effects


def score(
    model: LabelModel, counts: SignalCounts, design: Design, long_run: bool = True
) -> Posterior:
    """The posterior of every generation in `counts` under `model` (without `long_run`: its mean and
    variance only); Var(L | y) carries the model's interval scale of the generation's exposure group."""
    post = posterior(
        model.factor,
        evidence_of(model, counts, design),
        prior_means_of(model, design),
        model.prior_variance,
        long_run,
    )
    scaled = post.long_run_variance * model.interval_scales(design.exposure)
    return replace(post, long_run_variance=scaled)


def long_run_scores(model: LabelModel, rates: pl.DataFrame) -> pl.Series:
    """Each generation's long-run label under `model`, on the quality_score scale (Phi of L).

    `rates`: one row per generation with `model_version`, `duration_ms` and `impressions` (feed
    impressions: the prior conditions on them as the label does) and, per signal of the model, a
    Float64 column named as the signal holding the generation's long-run (expected) rate on the
    model's scale (see features.label_signals): view = expected views per expected effective
    impression under the adopted examination curve; completion = expected capped watch ratio over
    the cap per view; long_view and the actions = expected count per view. A null, NaN or missing
    column is a signal the generation cannot show (e.g. completion with an unknown duration).
    L = E[q | the long-run rates] (no sampling noise): a label's [quality_low, quality_high] is meant
    to cover it 90% of the time.
    """
    design = Design(
        segment=segments_of(rates, model.segments),
        bucket=duration_buckets(rates["duration_ms"], list(model.duration_edges)).astype(np.int64),
        exposure=exposure_groups(rates, model.exposure_edges),
    )
    columns = [
        rates[s].cast(pl.Float64).fill_null(float("nan")).to_numpy()
        if s in rates.columns
        else np.full(rates.height, np.nan)
        for s in model.signals
    ]
    values = np.column_stack(columns) if columns else np.zeros((rates.height, 0))
    observable = np.isfinite(values)
    intercept = intercepts_of(model, design)
    residual = np.where(observable, values, 0.0) - intercept
    scale = PersistentScale(model.signals, intercept, model.loading)
    label = long_run_mean(
        model.factor,
        residual,
        observable,
        prior_means_of(model, design),
        model.prior_variance,
        scale.at_quality,
    )
    return pl.Series("long_run_score", ndtr(label), dtype=pl.Float64)
