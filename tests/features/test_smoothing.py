"""Empirical-Bayes Beta priors: recovery of a known prior, posterior shrinkage, the moved check."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from features.smoothing import fit_beta_prior, fit_priors, posterior_moments, priors_moved


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
