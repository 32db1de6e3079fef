"""A count signal's spread between generations, by beta-binomial maximum likelihood
(features.label_beta_binomial)."""

from __future__ import annotations

import numpy as np
import pytest

from features.label_beta_binomial import between_variance, population_variances
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


def test_rows_without_trials_are_left_out_and_impossible_counts_clipped() -> None:
    successes, trials = beta_binomial_counts(2.0, 20.0, 5_000, seed=6)
    base = between_variance(successes, trials)
    padded = between_variance(np.append(successes, [3.0, 0.0]), np.append(trials, [0.0, 0.0]))
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
