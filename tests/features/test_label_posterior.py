"""The posterior's refining rounds: sampling variances re-evaluated at the rates the current quality
predicts, so that a variance taken at a generation's own reading does not pull the label low."""

from __future__ import annotations

import numpy as np

from features.label_posterior import Evidence, FactorParameters, posterior

INTERCEPT = np.array([0.05, 0.40])
LOADING = np.array([0.02, 0.03])
TRIALS = np.array([200.0, 2000.0])
FACTOR = FactorParameters(LOADING, np.diag([1e-5, 1e-5]), np.eye(2), rounds=3)


def readings(generations: int, seed: int) -> np.ndarray:
    """Rates of a rare signal (5% of 200 trials) and a common one (40% of 2,000), quality 0 for all."""
    rng = np.random.default_rng(seed)
    return rng.binomial(TRIALS.astype(int), INTERCEPT, size=(generations, 2)) / TRIALS


def variance_at(rate: np.ndarray) -> np.ndarray:
    clipped = np.clip(rate, 1e-6, 1.0 - 1e-6)
    return clipped * (1.0 - clipped) / TRIALS


def predicted(part: slice, quality: np.ndarray) -> np.ndarray:
    return variance_at(INTERCEPT + LOADING * quality[:, None])


def label(rates: np.ndarray, refined: bool, factor: FactorParameters = FACTOR) -> np.ndarray:
    observed = np.ones(rates.shape, dtype=bool)
    evidence = Evidence(
        residual=rates - INTERCEPT,
        noise_variance=variance_at(rates),
        observed=observed,
        observable=observed,
        noise_variance_at=predicted if refined else None,
    )
    return posterior(factor, evidence, np.zeros(rates.shape[0]), 1.0).mean


def test_a_variance_at_the_own_reading_leans_the_label_low_and_the_rounds_remove_most_of_it() -> (
    None
):
    """Every generation's quality is 0. A low draw of the rare rate claims a small variance and
    weighs more: the mean label falls below 0. At the rate the quality (read mostly off the common
    signal) predicts, the rare reading no longer sets its own weight."""
    rates = readings(40_000, seed=0)
    own, refined = label(rates, refined=False), label(rates, refined=True)
    spread = float(refined.std())
    assert float(own.mean()) < -0.05 * spread
    assert abs(float(refined.mean())) < 0.25 * abs(float(own.mean()))
    # no rounds: the first solve, at the own readings, is all there is
    no_rounds = FactorParameters(LOADING, FACTOR.persistent, np.eye(2), rounds=0)
    np.testing.assert_allclose(label(rates, refined=True, factor=no_rounds), own)


def test_the_rounds_reach_the_variance_at_the_final_quality() -> None:
    """After enough rounds the posterior is the one whose variances are fixed at the rates its own
    mean predicts."""
    rates = readings(300, seed=1)
    many = FactorParameters(LOADING, FACTOR.persistent, np.eye(2), rounds=8)
    refined = label(rates, refined=True, factor=many)
    observed = np.ones(rates.shape, dtype=bool)
    at_final = variance_at(INTERCEPT + LOADING * refined[:, None])
    fixed = Evidence(rates - INTERCEPT, at_final, observed, observed)
    again = posterior(many, fixed, np.zeros(rates.shape[0]), 1.0).mean
    np.testing.assert_allclose(again, refined, rtol=1e-6, atol=1e-9)


def test_the_stacked_elimination_gives_each_generations_own_gls_posterior() -> None:
    """Correlated noise, a full persistent covariance and rows missing different signals: every
    generation's mean and variance equal its own K x K solve."""
    rng = np.random.default_rng(7)
    k, n = 6, 300
    mixing = rng.normal(size=(k, k))
    persistent = mixing @ mixing.T / k + 0.1 * np.eye(k)
    correlation = np.full((k, k), 0.3) + 0.7 * np.eye(k)
    loading = rng.normal(size=k)
    factor = FactorParameters(loading, persistent, correlation)
    observed = rng.random((n, k)) < 0.7
    noise = rng.uniform(0.01, 2.0, size=(n, k))
    residual = rng.normal(size=(n, k))
    prior_mean = rng.normal(size=n)
    evidence = Evidence(residual, noise, observed, np.ones((n, k), dtype=bool))
    post = posterior(factor, evidence, prior_mean, 0.5)
    for i in range(n):
        used = np.flatnonzero(observed[i])
        sd = np.sqrt(noise[i, used])
        sigma = persistent[np.ix_(used, used)] + correlation[np.ix_(used, used)] * np.outer(sd, sd)
        solved = np.linalg.solve(sigma, np.column_stack([loading[used], residual[i, used]]))
        precision = loading[used] @ solved[:, 0] + 1.0 / 0.5
        mean = (loading[used] @ solved[:, 1] + prior_mean[i] / 0.5) / precision
        assert abs(post.variance[i] - 1.0 / precision) < 1e-9
        assert abs(post.mean[i] - mean) < 1e-9
