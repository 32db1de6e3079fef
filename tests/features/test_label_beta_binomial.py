"""A count signal's spread between generations, by beta-binomial maximum likelihood
(features.label_beta_binomial)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import check_grad, minimize
from scipy.special import betaln, expit

from features.label_beta_binomial import (
    _negative_log_likelihood,
    between_variance,
    population_variances,
)
from features.label_signals import SignalCounts


def beta_binomial_counts(
    alpha: float, beta: float, size: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """`size` generations: trials 1-59, rate ~ Beta(alpha, beta), successes ~ Binomial."""
    rng = np.random.default_rng(seed)
    trials = rng.integers(1, 60, size)
    successes = rng.binomial(trials, rng.beta(alpha, beta, size))
    return successes.astype(np.float64), trials.astype(np.float64)


@pytest.mark.parametrize(("alpha", "beta"), [(2.0, 20.0), (0.5, 50.0), (0.05, 10.0)])
def test_the_variance_of_a_known_beta_is_recovered(alpha: float, beta: float) -> None:
    successes, trials = beta_binomial_counts(alpha, beta, 20_000, seed=3)
    truth = alpha * beta / ((alpha + beta) ** 2 * (alpha + beta + 1))
    assert between_variance(successes, trials) == pytest.approx(truth, rel=0.1)


def test_a_rare_signal_is_read_where_the_halves_products_would_miss_it() -> None:
    # mean rate 0.005: most generations show no event at all
    successes, trials = beta_binomial_counts(0.05, 10.0, 20_000, seed=4)
    assert (successes == 0).mean() > 0.9
    assert between_variance(successes, trials) == pytest.approx(
        0.05 * 10.0 / (10.05**2 * 11.05), rel=0.2
    )


def test_one_rate_for_every_generation_has_no_spread() -> None:
    rng = np.random.default_rng(5)
    trials = rng.integers(1, 60, 20_000)
    successes = rng.binomial(trials, 0.03).astype(np.float64)
    assert between_variance(successes, trials.astype(np.float64)) < 1e-3 * 0.03 * 0.97


def test_rows_without_trials_or_finite_counts_are_left_out_and_impossible_counts_clipped() -> None:
    successes, trials = beta_binomial_counts(2.0, 20.0, 5_000, seed=6)
    base = between_variance(successes, trials)
    padded = between_variance(
        np.append(successes, [3.0, 0.0, np.nan, 2.0]), np.append(trials, [0.0, 0.0, 5.0, np.inf])
    )
    assert padded == base
    over = successes.copy()
    over[0] = trials[0] + 5
    clipped = successes.copy()
    clipped[0] = trials[0]
    assert between_variance(over, trials) == between_variance(clipped, trials)


def test_nothing_or_everything_succeeding_has_no_spread() -> None:
    trials = np.array([3.0, 5.0, 8.0])
    assert between_variance(np.zeros(3), trials) == 0.0
    assert between_variance(trials, trials) == 0.0
    assert between_variance(np.array([1.0]), np.array([4.0])) == 0.0


def test_only_binomial_signals_get_a_spread_and_a_duration_signal_is_read_per_bucket() -> None:
    rng = np.random.default_rng(7)
    size = 4_000
    trials = rng.integers(5, 60, size).astype(np.float64)
    bucket = np.repeat([0, 1], size // 2)
    # long view: 0.2 in one bucket, 0.6 in the other, no spread within either
    long_view = rng.binomial(trials.astype(int), np.where(bucket == 0, 0.2, 0.6))
    like = rng.binomial(trials.astype(int), 0.2)
    counts = SignalCounts(
        signals=("view", "long_view", "like"),
        successes=np.column_stack([like, long_view, like]).astype(np.float64),
        trials=np.column_stack([trials, trials, trials]),
        observable=np.ones((size, 3), dtype=bool),
        examination=np.ones(size),
    )
    spread = population_variances(counts, bucket)
    assert spread[0] == 0.0
    assert spread[1] < 1e-4
    assert spread[2] < 1e-4
    # one bucket for all: the two means' difference reads as spread (0.04)
    assert population_variances(counts, np.zeros(size, dtype=int))[1] == pytest.approx(
        0.04, rel=0.1
    )


@pytest.mark.parametrize("theta", [(-2.0, 1.0), (-4.0, 5.0), (0.3, -1.0), (-1.0, 8.0)])
def test_the_gradient_is_the_likelihoods(theta: tuple[float, float]) -> None:
    rng = np.random.default_rng(8)
    successes = rng.integers(0, 5, 50).astype(np.float64)
    failures = rng.integers(0, 30, 50).astype(np.float64)
    weight = rng.integers(1, 4, 50) / 100.0

    def value(t: np.ndarray) -> float:
        return _negative_log_likelihood(t, successes, failures, weight)[0]

    def gradient(t: np.ndarray) -> np.ndarray:
        return _negative_log_likelihood(t, successes, failures, weight)[1]

    scale = np.linalg.norm(gradient(np.array(theta))) + 1e-3
    # finite differences lose digits to the beta functions' cancellation at a high precision
    assert check_grad(value, gradient, np.array(theta), epsilon=1e-6) < 1e-3 * scale


def maximum_likelihood_variance(successes: np.ndarray, trials: np.ndarray) -> float:
    """A slow reference: Nelder-Mead from many starts (precision capped as the module caps it)."""

    def negative(theta: np.ndarray) -> float:
        mean, precision = expit(theta[0]), np.exp(min(theta[1], 16.0))
        a, b = mean * precision, (1 - mean) * precision
        return -float(np.mean(betaln(successes + a, trials - successes + b) - betaln(a, b)))

    centre = np.log(successes.sum() / (trials.sum() - successes.sum()))
    fits = [
        minimize(negative, [centre, start], method="Nelder-Mead", options={"fatol": 1e-13})
        for start in (0.0, 4.0, 8.0, 12.0, 15.0)
    ]
    best = min(fits, key=lambda fit: fit.fun)
    mean, precision = expit(best.x[0]), np.exp(min(best.x[1], 16.0))
    return float(mean * (1 - mean) / (1 + precision))


def test_the_fit_reaches_the_likelihoods_maximum_where_the_moments_see_no_spread() -> None:
    # ~1100 trials a generation, spread 2e-6: the moments read none, the likelihood does (a fit
    # started at the moments' end alone, or stopped by the relative rule, returned 1e-8)
    rng = np.random.default_rng(102)
    trials = np.exp(rng.normal(7.0, 0.5, 2000)).astype(int).clip(1).astype(np.float64)
    successes = rng.binomial(trials.astype(np.int64), rng.beta(2000.0, 18000.0, 2000))
    successes = successes.astype(np.float64)
    reference = maximum_likelihood_variance(successes, trials)
    assert reference > 1e-6
    assert between_variance(successes, trials) == pytest.approx(reference, rel=0.02)
