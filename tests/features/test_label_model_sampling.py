"""Where the label model reads each signal's sampling variance and Psi's factors: the predicted rates
and their wiring into every score (features.label_model.predicted_rates, SamplingVariance,
persistent_scales, evidence_of)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import polars as pl
from scipy.special import ndtr

from features.label_model import (
    Design,
    LabelModel,
    SamplingVariance,
    evidence_of,
    long_run_scores,
    persistent_scales,
    predicted_rates,
    prior_means_of,
    score,
)
from features.label_posterior import information, long_run_mean, posterior
from features.label_signals import SignalCounts
from tests.features.label_world import fixed_model

SIGNALS = ("view", "like", "report")
INTERCEPT = np.array([0.40, 0.05, 0.002])
LOADING = np.array([0.06, 0.02, -0.001])


def model(persistent_sd: tuple[float, float, float] = (0.004, 0.001, 1e-6)) -> LabelModel:
    psi = np.diag(persistent_sd) ** 2
    return fixed_model(SIGNALS, INTERCEPT, LOADING, psi, shrink_strength=5.0, dof=10.0, rounds=3)


WIDE_SPREAD = (0.04, 0.02, 0.002)
"""Persistent sds as large as a few hundred trials' sampling noise: Psi's factors matter."""


def factors_by_hand(rows: int) -> Callable[[slice, np.ndarray], np.ndarray]:
    """Psi's factors of `rows` generations at the shared intercepts, computed here rather than by
    the model's own wiring (`PersistentScale`)."""
    intercept = np.tile(INTERCEPT, (rows, 1))

    def at_quality(part: slice, quality: np.ndarray) -> np.ndarray:
        return persistent_scales(SIGNALS, intercept[part], LOADING, quality)

    return at_quality


def test_predicted_rates_keep_the_models_slope_at_the_intercept_and_a_yes_no_rate_inside_0_1() -> (
    None
):
    quality = np.array([-1e-6, 0.0, 1e-6])
    rates = predicted_rates(SIGNALS, np.tile(INTERCEPT, (3, 1)), LOADING, quality)
    np.testing.assert_allclose(rates[1], INTERCEPT)
    np.testing.assert_allclose((rates[2] - rates[0]) / 2e-6, LOADING, rtol=1e-4)
    far = predicted_rates(SIGNALS, np.tile(INTERCEPT, (2, 1)), LOADING, np.array([-40.0, 40.0]))
    assert np.all((far[:, 1:] > 0.0) & (far[:, 1:] < 1.0))
    # the like rate at q = 40 (where a straight line would read 0.85) is near 1 but claims noise
    assert 0.9 < far[1, 1] < 1.0
    # the view rate is per effective impression: unbounded above, positive
    assert far[1, 0] > 1.0 and far[0, 0] > 0.0


def counts_at_quality_zero(n: int, seed: int) -> tuple[SignalCounts, Design]:
    """Counts of generations that all have quality 0: views of 300 impressions, actions per view."""
    rng = np.random.default_rng(seed)
    impressions = np.full(n, 300.0)
    views = rng.binomial(300, INTERCEPT[0], size=n).astype(np.float64)
    successes = np.column_stack(
        [
            views,
            rng.binomial(views.astype(int), INTERCEPT[1]),
            rng.binomial(views.astype(int), INTERCEPT[2]),
        ]
    ).astype(np.float64)
    trials = np.column_stack([impressions, views, views])
    observable = np.ones((n, 3), dtype=bool)
    design = Design(np.full(n, -1), np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64))
    return SignalCounts(SIGNALS, successes, trials, observable, np.ones(n)), design


def test_every_score_reads_the_variances_at_the_predicted_rates_and_is_not_pulled_low() -> None:
    """All qualities are 0: the label's mean stays near 0, where the variances at each generation's
    own readings (the first solve alone) pull it away: a low count claims less noise and weighs
    more, low likes pulling down, and above all the rare report's zeros pulling up (its loading is
    negative)."""
    labelled = model()
    counts, design = counts_at_quality_zero(30_000, seed=3)
    evidence = evidence_of(labelled, counts, design)
    assert evidence.noise_variance_at is not None
    refined = score(labelled, counts, design, long_run=False).mean
    own = posterior(
        labelled.factor,
        replace(evidence, noise_variance_at=None),
        prior_means_of(labelled, design),
        labelled.prior_variance,
        long_run=False,
    ).mean
    spread = float(refined.std())
    assert abs(float(own.mean())) > 0.3 * spread
    assert abs(float(refined.mean())) < 0.1 * abs(float(own.mean()))


def test_the_variances_of_a_batch_are_its_own_rows() -> None:
    """A posterior batch (a slice of the rows) reads its own intercepts, trials and examination."""
    n = 6
    intercept = np.tile(INTERCEPT, (n, 1)) * np.linspace(0.5, 1.5, n)[:, None]
    trials = np.arange(1.0, n * 3 + 1.0).reshape(n, 3) * 10.0
    variance = SamplingVariance(
        SIGNALS, intercept, LOADING, trials, np.linspace(0.3, 0.9, n), np.ones(3), np.ones(3)
    )
    quality = np.linspace(-1.0, 1.0, n)
    whole = variance.at_quality(slice(None), quality)
    np.testing.assert_array_equal(variance.at_quality(slice(2, 5), quality[2:5]), whole[2:5])
    assert np.unique(whole[:, 1]).size == n


def test_a_yes_no_rates_persistent_spread_is_a_betas_at_the_predicted_rate_and_the_views_stays() -> (
    None
):
    quality = np.array([0.0, -3.0, 3.0])
    intercept = np.tile(INTERCEPT, (3, 1))
    scales = persistent_scales(SIGNALS, intercept, LOADING, quality)
    np.testing.assert_allclose(scales[0], 1.0)
    np.testing.assert_array_equal(scales[:, 0], 1.0)
    rates = predicted_rates(SIGNALS, intercept, LOADING, quality)
    beta = rates * (1.0 - rates) / (INTERCEPT * (1.0 - INTERCEPT))
    np.testing.assert_allclose(scales[:, 1:], beta[:, 1:], rtol=1e-12)
    # a bad generation (q = -3) reports 4.5 times as often as the intercept: its reports spread 4.4
    # times as much (Psi's factor); a good one (q = 3), a fifth as often and as much
    assert 4.3 < scales[1, 2] < 4.5 and 0.2 < scales[2, 2] < 0.25


def test_every_score_reads_psis_factors_at_its_quality() -> None:
    """`evidence_of` hands the posterior Psi's factors at each batch's own quality: the label equals
    the one computed with the factors handed in by hand, and differs from one without them."""
    fitted = model()
    counts, design = counts_at_quality_zero(400, seed=5)
    evidence = evidence_of(fitted, counts, design)
    assert evidence.persistent_scale_at is not None
    prior = prior_means_of(fitted, design) + np.linspace(-3.0, 3.0, 400)
    post = posterior(fitted.factor, evidence, prior, fitted.prior_variance)
    by_hand = replace(evidence, persistent_scale_at=factors_by_hand(400))
    again = posterior(fitted.factor, by_hand, prior, fitted.prior_variance)
    np.testing.assert_array_equal(again.mean, post.mean)
    without = posterior(
        fitted.factor, replace(evidence, persistent_scale_at=None), prior, fitted.prior_variance
    )
    assert float(np.max(np.abs(without.mean - post.mean))) > 1e-4


def test_the_long_run_label_reads_psis_factors_at_its_own_quality() -> None:
    """The label the intervals are measured against reads the same factors as the label: for
    generations far from the average quality it equals the long-run solve with the factors handed in
    by hand, and differs from one without them."""
    fitted = model(WIDE_SPREAD)
    quality = np.linspace(-2.5, 2.5, 11)
    intercept = np.tile(INTERCEPT, (quality.size, 1))
    # off the curves by persistent deviations, so that the signals disagree and their weights matter
    deviation = np.random.default_rng(8).normal(size=(quality.size, 3)) * np.array(WIDE_SPREAD)
    expected = np.clip(
        predicted_rates(SIGNALS, intercept, LOADING, quality) + deviation, 1e-4, None
    )
    rates = pl.DataFrame(
        {
            "model_version": pl.Series([None] * quality.size, dtype=pl.String),
            "duration_ms": np.full(quality.size, 10_000),
            "impressions": np.full(quality.size, 1_000),
            **{signal: expected[:, k] for k, signal in enumerate(SIGNALS)},
        }
    )
    got = long_run_scores(fitted, rates).to_numpy()

    observable = np.ones(expected.shape, dtype=bool)
    prior = np.zeros(quality.size)
    args = (fitted.factor, expected - intercept, observable, prior, fitted.prior_variance)
    np.testing.assert_array_equal(got, ndtr(long_run_mean(*args, factors_by_hand(quality.size))))
    assert float(np.max(np.abs(got - ndtr(long_run_mean(*args))))) > 1e-3


def test_the_priors_evidence_reads_psis_factors() -> None:
    """`information` (the evidence the prior is fitted on) reads the factors at the quality its
    (prior mean, variance) posterior gives."""
    fitted = model(WIDE_SPREAD)
    counts, design = counts_at_quality_zero(400, seed=6)
    evidence = evidence_of(fitted, counts, design)
    prior = np.linspace(-3.0, 3.0, 400)
    info, weighted = information(fitted.factor, evidence, prior, 1.0)
    by_hand = replace(evidence, persistent_scale_at=factors_by_hand(400))
    again = information(fitted.factor, by_hand, prior, 1.0)
    np.testing.assert_array_equal(info, again[0])
    np.testing.assert_array_equal(weighted, again[1])
    without = information(fitted.factor, replace(evidence, persistent_scale_at=None), prior, 1.0)
    assert float(np.max(np.abs(without[0] - info) / info)) > 1e-3
