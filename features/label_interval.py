"""How much wider than the model says each exposure group's long-run interval must be, measured
from the two viewer halves (no truth needed).

A label's error against its long-run label is E[q | y] - L = c . r - l . mu + w m (see
features.label_posterior.EstimatorMaps: the t weights and Psi's factors held at their final values):
a persistent part, (c - l) . mu + w m, and a sampling part, c . noise. The model prices both, but
only as well as its linear, one-factor picture of the rates holds; where a rare signal's rate is
convex in quality or the residuals are not what Psi says, the persistent part is far larger than
priced. The halves measure each without the model: their noise is
independent, so the product of the persistent part read on half A and on half B is unbiased for its
square, and (c . (r_A - r_B) sqrt(n_A n_B) / n)^2 (n: a signal's trials) for the full data's
sampling variance. Their sum over the model's Var(L | y), averaged over a group's generations, is the
group's variance scale (never below 1: the data can widen the model's interval, not narrow it).
"""

from __future__ import annotations

import numpy as np

from features.label_config import LabelConfig
from features.label_model import (
    Design,
    LabelModel,
    evidence_of,
    intercepts_of,
    prior_means_of,
)
from features.label_posterior import estimator_maps
from features.label_signals import SignalCounts


def _measured_errors(
    model: LabelModel,
    full: SignalCounts,
    half_a: SignalCounts,
    half_b: SignalCounts,
    design: Design,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per generation: the halves' unbiased reading of E[(E[q | y] - L)^2], the model's Var(L | y),
    and whether both halves show every signal the generation can show (only then is it measured)."""
    prior_mean = prior_means_of(model, design)
    maps = estimator_maps(
        model.factor, evidence_of(model, full, design), prior_mean, model.prior_variance
    )
    intercept = intercepts_of(model, design)
    residual_a, residual_b = half_a.residuals(intercept), half_b.residuals(intercept)
    prior_part = maps.prior_weight * prior_mean
    contrast = maps.current - maps.long_run
    persistent = ((contrast * residual_a).sum(axis=1) + prior_part) * (
        (contrast * residual_b).sum(axis=1) + prior_part
    )
    # the full rate is the trial-weighted mean of the halves': its noise is the half difference
    # times sqrt(n_A n_B) / n (one half of it when the halves are equal)
    share = np.divide(
        np.sqrt(half_a.trials * half_b.trials),
        full.trials,
        out=np.zeros_like(full.trials),
        where=full.trials > 0,
    )
    sampling = (maps.current * share * (residual_a - residual_b)).sum(axis=1) ** 2
    measured = np.all(~full.observable | (half_a.observed & half_b.observed), axis=1)
    return persistent + sampling, maps.long_run_variance, measured


def interval_scales(
    model: LabelModel,
    full: SignalCounts,
    half_a: SignalCounts,
    half_b: SignalCounts,
    design: Design,
    config: LabelConfig,
) -> np.ndarray:
    """Per exposure group of the model: the factor on Var(L | y) that the halves measure, the mean
    over its measured generations of each one's measured error over its Var(L | y) (see the module
    docstring); a group with fewer than `interval_min_generations` measured generations gets the
    pooled factor of all groups, and 1 without any."""
    groups = len(model.exposure_edges)
    error, variance, measured = _measured_errors(model, full, half_a, half_b, design)
    measured &= variance > 0
    ratio = error[measured] / variance[measured]
    return group_scales(ratio, design.exposure[measured], groups, config.interval_min_generations)


def group_scales(
    ratio: np.ndarray, group: np.ndarray, groups: int, min_generations: int
) -> np.ndarray:
    """Per group: the mean of its generations' `ratio` (measured error over Var(L | y)), at least 1;
    the pooled mean where a group has fewer than `min_generations`, and 1 without any."""
    # coverage counts generations, so each weighs the same (a ratio of sums would let the few
    # widest intervals, the least shown generations, set everyone's factor)
    ratio_sum = np.bincount(group, weights=ratio, minlength=groups)[:groups]
    size = np.bincount(group, minlength=groups)[:groups]
    pooled = max(1.0, float(ratio.mean())) if ratio.size else 1.0
    own = (size >= min_generations) & (size > 0)
    mean = np.divide(ratio_sum, size, out=np.ones(groups), where=own)
    return np.where(own, np.maximum(mean, 1.0), pooled)
