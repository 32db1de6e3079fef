"""Empirical-Bayes Beta priors: recovery of a known prior, posterior shrinkage, the moved check."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy.optimize import minimize
from scipy.special import betaln, digamma, expit, logit

from features.smoothing import (
    fit_beta_prior,
    fit_beta_priors,
    fit_priors,
    posterior_moments,
    priors_moved,
)


def beta_binomial(alpha: float, beta: float, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    trials = rng.integers(1, 200, n)
    rates = rng.beta(alpha, beta, n)
    return rng.binomial(trials, rates).astype(float), trials.astype(float)


def test_fit_beta_prior_recovers_mean_and_strength() -> None:
    successes, trials = beta_binomial(2.0, 18.0, 4000, seed=0)
    alpha, beta = fit_beta_prior(successes, trials, min_strength=1.0, max_strength=1e5)
    assert alpha / (alpha + beta) == pytest.approx(0.10, abs=0.005)
    assert alpha + beta == pytest.approx(20.0, rel=0.15)


def test_fit_beta_prior_is_not_fooled_by_exposure_that_follows_the_rate() -> None:
    """Popular items (many trials) have higher rates: the fit must still see the spread between items."""
    rng = np.random.default_rng(3)
    rates = rng.beta(1.0, 30.0, 3000)
    trials = np.floor(20 * np.exp(40 * rates + rng.normal(0, 1, rates.size))).clip(1, 50_000)
    successes = rng.binomial(trials.astype(int), rates).astype(float)
    alpha, beta = fit_beta_prior(successes, trials, min_strength=1.0, max_strength=1e5)
    assert alpha + beta < 100  # a strength near the cap would erase every item's own evidence


def test_posterior_shrinks_sparse_generations_toward_their_segment() -> None:
    signals = pl.DataFrame(
        {
            "generation_id": ["sparse", "dense"],
            "segment": ["m1", "m1"],
            "signal": ["like", "like"],
            "successes": [1.0, 900.0],
            "trials": [3.0, 3000.0],
        }
    )
    priors = pl.DataFrame(
        {
            "signal": ["like", "like"],
            "segment": ["*", "m1"],
            "alpha": [1.0, 2.0],
            "beta": [9.0, 18.0],
            "generations": [100, 50],
        }
    )
    posterior = dict(
        posterior_moments(signals, priors).select("generation_id", "posterior_mean").iter_rows()
    )
    assert posterior["sparse"] == pytest.approx((2 + 1) / (20 + 3))
    assert posterior["dense"] == pytest.approx((2 + 900) / (20 + 3000))
    assert posterior["dense"] > posterior["sparse"]


def test_segments_too_small_fall_back_to_the_global_prior() -> None:
    successes, trials = beta_binomial(2.0, 8.0, 200, seed=1)
    signals = pl.DataFrame(
        {
            "generation_id": [f"g{i}" for i in range(200)],
            "segment": ["big"] * 190 + ["tiny"] * 10,
            "signal": ["like"] * 200,
            "successes": successes,
            "trials": trials,
        }
    )
    priors = fit_priors(signals, min_generations=30, min_strength=1.0, max_strength=1e5)
    assert set(priors["segment"]) == {"*", "big"}


def test_priors_moved_only_beyond_tolerance() -> None:
    old = pl.DataFrame(
        {"signal": ["like"], "segment": ["*"], "alpha": [2.0], "beta": [18.0], "generations": [10]}
    )
    assert not priors_moved(old, old.with_columns(alpha=pl.lit(2.01)), tolerance=0.02)
    assert priors_moved(old, old.with_columns(alpha=pl.lit(2.5)), tolerance=0.02)
    assert priors_moved(old, old.with_columns(segment=pl.lit("m1")), tolerance=0.02)


def tightly_fitted(successes: np.ndarray, trials: np.ndarray) -> tuple[float, float]:
    """(alpha, beta) by L-BFGS-B converged far below any tolerance of the fit under test."""
    s, n = successes[trials > 0], trials[trials > 0]

    def negative_log_likelihood(theta: np.ndarray) -> tuple[float, np.ndarray]:
        mean, strength = expit(theta[0]), np.exp(theta[1])
        a, b = mean * strength, (1.0 - mean) * strength
        value = np.mean(betaln(a + s, b + n - s) - betaln(a, b))
        common = digamma(a + b) - digamma(a + b + n)
        d_a = np.mean(digamma(a + s) - digamma(a) + common)
        d_b = np.mean(digamma(b + n - s) - digamma(b) + common)
        gradient = [(d_a - d_b) * a * (1.0 - mean), d_a * a + d_b * b]
        return -float(value), -np.array(gradient)

    start = np.array([logit(s.sum() / n.sum()), np.log(10.0)])
    bounds = [(None, None), (np.log(1.0), np.log(1e5))]
    options = {"ftol": 1e-15, "gtol": 1e-12, "maxiter": 10_000}
    for _ in range(2):
        start = minimize(negative_log_likelihood, start, jac=True, bounds=bounds, options=options).x
    theta = start
    mean, strength = expit(theta[0]), np.clip(np.exp(theta[1]), 1.0, 1e5)
    return mean * strength, (1.0 - mean) * strength


def test_newton_fit_reaches_the_maximum_likelihood_of_every_group_at_once() -> None:
    rng = np.random.default_rng(5)
    integer = beta_binomial(0.5, 9.5, 3000, seed=2)
    trials = rng.integers(1, 40, 2000).astype(float)
    continuous = (rng.beta(6.0, 11.0, 2000) * trials * rng.uniform(0.8, 1.2, 2000), trials)
    homogeneous = (rng.binomial(50, 0.2, 1000).astype(float), np.full(1000, 50.0))
    groups = [integer, continuous, homogeneous]
    fitted = fit_beta_priors(groups, min_strength=1.0, max_strength=1e5)
    for (successes, group_trials), (alpha, beta) in zip(groups[:2], fitted, strict=False):
        want = tightly_fitted(np.minimum(successes, group_trials), group_trials)
        assert alpha / (alpha + beta) == pytest.approx(want[0] / sum(want), rel=1e-6)
        assert alpha + beta == pytest.approx(sum(want), rel=1e-5)
    # no spread beyond binomial noise: the strength goes to its cap, the mean to the pooled rate
    alpha, beta = fitted[2]
    assert alpha + beta == pytest.approx(1e5)
    assert alpha / (alpha + beta) == pytest.approx(0.199, rel=1e-5)
    assert homogeneous[0].sum() / homogeneous[1].sum() == 0.199


def test_one_trial_each_fits_the_mean_and_keeps_the_strength_at_its_start() -> None:
    successes = (np.arange(1000) % 4 == 0).astype(float)
    alpha, beta = fit_beta_prior(successes, np.ones(1000), min_strength=2.0, max_strength=1e5)
    assert alpha / (alpha + beta) == pytest.approx(0.25, rel=1e-9)
    assert alpha + beta == pytest.approx(1e5)


def test_groups_whose_newton_steps_do_not_settle_fall_back_to_lbfgs() -> None:
    groups = [beta_binomial(2.0, 18.0, 2000, seed=s) for s in (3, 4)]
    newton = fit_beta_priors(groups, min_strength=1.0, max_strength=1e5)
    fallback = fit_beta_priors(groups, min_strength=1.0, max_strength=1e5, newton_steps=0)
    np.testing.assert_allclose(fallback, newton, rtol=1e-3)


def test_fit_priors_fits_each_segment_on_its_own_rows_and_samples_large_ones() -> None:
    parts = {"a": beta_binomial(2.0, 8.0, 400, seed=6), "b": beta_binomial(1.0, 30.0, 300, seed=7)}
    signals = pl.concat(
        pl.DataFrame(
            {
                "generation_id": [f"{name}{i}" for i in range(len(s))],
                "segment": name,
                "signal": "like",
                "successes": s,
                "trials": n,
            }
        )
        for name, (s, n) in parts.items()
    )
    settings = {"min_strength": 1.0, "max_strength": 1e5, "max_rows": 350}
    priors = fit_priors(signals, min_generations=30, **settings)
    got = {row["segment"]: (row["alpha"], row["beta"]) for row in priors.iter_rows(named=True)}
    for name, (s, n) in parts.items():
        assert got[name] == pytest.approx(fit_beta_prior(s, n, **settings), rel=1e-12)
    assert got["*"] == pytest.approx(
        fit_beta_prior(signals["successes"].to_numpy(), signals["trials"].to_numpy(), **settings),
        rel=1e-12,
    )
