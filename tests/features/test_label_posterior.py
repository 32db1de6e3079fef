"""The posterior's refining rounds: sampling variances re-evaluated at the rates the current quality
predicts, so that a variance taken at a generation's own reading does not pull the label low."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest

from features import label_posterior
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


def test_the_rounds_reach_psis_factors_at_the_final_quality() -> None:
    """A rare signal whose persistent spread grows with its rate: after enough rounds the posterior
    is the one whose Psi is fixed at the factors its own mean gives (Psi_i = H^1/2 Psi H^1/2)."""
    rates = readings(300, seed=2)
    psi = np.array([[4e-4, 1e-5], [1e-5, 2e-4]])
    many = FactorParameters(LOADING, psi, np.eye(2), rounds=8)
    observed = np.ones(rates.shape, dtype=bool)

    def scale_at(part: slice, quality: np.ndarray) -> np.ndarray:
        return np.column_stack([np.exp(0.5 * quality), np.ones(quality.size)])

    evidence = Evidence(
        rates - INTERCEPT, variance_at(rates), observed, observed, persistent_scale_at=scale_at
    )
    prior = np.linspace(-2.0, 2.0, rates.shape[0])
    refined = posterior(many, evidence, prior, 1.0).mean
    root = np.sqrt(scale_at(slice(None), refined))
    for i in range(rates.shape[0]):
        sigma = psi * np.outer(root[i], root[i]) + np.diag(variance_at(rates)[i])
        solved = np.linalg.solve(sigma, np.column_stack([LOADING, rates[i] - INTERCEPT]))
        mean = (LOADING @ solved[:, 1] + prior[i]) / (LOADING @ solved[:, 0] + 1.0)
        assert abs(mean - refined[i]) < 1e-6 * max(1.0, abs(mean))
    without = posterior(many, replace(evidence, persistent_scale_at=None), prior, 1.0).mean
    assert float(np.max(np.abs(without - refined))) > 1e-2


def own_posterior(
    factor: FactorParameters, evidence: Evidence, i: int, prior_mean: float, prior_variance: float
) -> tuple[float, float, float]:
    """(mean, variance, long-run variance) of generation i by its own dense solves, the Student-t
    weights and Psi's factors refined as the posterior's rounds do."""
    used = np.flatnonzero(evidence.observed[i])
    sd = np.sqrt(evidence.noise_variance[i])
    b, psi, r = factor.loading, factor.persistent, evidence.residual[i]
    row = slice(i, i + 1)
    weight = np.ones(b.size)
    for round_ in range(factor.rounds + 1):
        scale = 1.0 / np.sqrt(weight[used])
        sigma = psi[np.ix_(used, used)] * np.outer(scale, scale)
        sigma += factor.noise_correlation[np.ix_(used, used)] * np.outer(sd[used], sd[used])
        solved = np.linalg.solve(sigma, np.column_stack([b[used], r[used]]))
        precision = b[used] @ solved[:, 0] + 1.0 / prior_variance
        mean = (b[used] @ solved[:, 1] + prior_mean / prior_variance) / precision
        if round_ < factor.rounds:
            grown = np.ones(b.size)
            if evidence.persistent_scale_at is not None:
                grown = evidence.persistent_scale_at(row, np.array([mean]))[0]
            t = np.ones(b.size)
            if np.isfinite(factor.dof):
                spread = np.diag(psi) * grown + sd**2
                t = (factor.dof + 1.0) / (factor.dof + (r - b * mean) ** 2 / spread)
            weight = np.where(evidence.observed[i], t, 1.0) / grown
    scale = 1.0 / np.sqrt(weight)
    long_precision = b @ np.linalg.solve(psi * np.outer(scale, scale), b) + 1.0 / prior_variance
    return mean, 1.0 / precision, 1.0 / precision - 1.0 / long_precision


def growing_spread(part: slice, quality: np.ndarray) -> np.ndarray:
    """Psi's factors growing with quality on the even signals (kept 1 on the odd ones)."""
    grown = np.exp(0.3 * np.clip(quality, -5.0, 5.0))[:, None]
    return np.where(np.arange(10)[None, :] % 2 == 0, grown, 1.0)


@pytest.mark.parametrize(
    ("dof", "spread"),
    [(np.inf, None), (4.0, None), (np.inf, growing_spread), (4.0, growing_spread)],
)
def test_the_stacked_elimination_gives_each_generations_own_gls_posterior(
    dof: float, spread: Callable[[slice, np.ndarray], np.ndarray] | None
) -> None:
    """Ten signals, correlated noise, a full persistent covariance, rows missing different signals
    and some rates without sampling noise, with and without Student-t rounds and Psi's factors:
    every generation's mean, variance and long-run variance equal its own dense solves."""
    rng = np.random.default_rng(7)
    k, n = 10, 400
    mixing = rng.normal(size=(k, k))
    persistent = mixing @ mixing.T / k + 0.1 * np.eye(k)
    correlation = np.full((k, k), 0.3) + 0.7 * np.eye(k)
    loading = rng.normal(size=k)
    factor = FactorParameters(loading, persistent, correlation, dof=dof, rounds=3)
    observed = rng.random((n, k)) < 0.7
    noise = np.where(rng.random((n, k)) < 0.1, 0.0, rng.uniform(0.01, 2.0, size=(n, k)))
    residual = rng.normal(size=(n, k))
    prior_mean = rng.normal(size=n)
    observable = np.ones((n, k), dtype=bool)
    evidence = Evidence(residual, noise, observed, observable, persistent_scale_at=spread)
    post = posterior(factor, evidence, prior_mean, 0.5)
    for i in range(n):
        mean, variance, long_run = own_posterior(factor, evidence, i, prior_mean[i], 0.5)
        assert abs(post.mean[i] - mean) < 1e-9
        assert abs(post.variance[i] - variance) < 1e-9
        assert abs(post.long_run_variance[i] - long_run) < 1e-9


def test_a_system_that_is_not_positive_definite_is_an_error_not_a_nan() -> None:
    """A signal with neither persistent nor sampling variance leaves a zero pivot."""
    factor = FactorParameters(np.array([1.0, 0.5]), np.diag([1.0, 0.0]), np.eye(2))
    observed = np.ones((3, 2), dtype=bool)
    noise = np.column_stack([np.full(3, 0.1), np.zeros(3)])
    evidence = Evidence(np.ones((3, 2)), noise, observed, observed)
    with pytest.raises(np.linalg.LinAlgError):
        posterior(factor, evidence, np.zeros(3), 1.0)


def test_the_result_does_not_depend_on_how_the_rows_are_batched(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rows without sampling noise on their signals are solved as every other row is, whichever
    batch they fall in: batches of 7 and of 8,192 rows give the same bytes."""
    rng = np.random.default_rng(3)
    k, n = 5, 500
    mixing = rng.normal(size=(k, k))
    factor = FactorParameters(
        rng.normal(size=k), mixing @ mixing.T / k + 0.1 * np.eye(k), np.eye(k), dof=4.0, rounds=3
    )
    observed = np.ones((n, k), dtype=bool)
    observed[: n // 2, 0] = False
    noise = rng.uniform(0.01, 2.0, size=(n, k))
    noise[: n // 4] = 0.0  # every rate of these rows, on their own pattern of signals
    evidence = Evidence(rng.normal(size=(n, k)), noise, observed, np.ones((n, k), dtype=bool))
    results = []
    for rows in (8_192, 7):
        monkeypatch.setattr(label_posterior, "CHUNK_ROWS", rows)
        post = posterior(factor, evidence, np.zeros(n), 1.0)
        results.append(np.concatenate([post.mean, post.variance, post.long_run_variance]))
    assert results[0].tobytes() == results[1].tobytes()


def test_a_factor_that_is_not_finite_and_positive_is_an_error() -> None:
    """A NaN factor (a NaN intercept or quality) must not pass silently into the long-run solve."""
    observed = np.ones((4, 2), dtype=bool)

    def broken(part: slice, quality: np.ndarray) -> np.ndarray:
        return np.full((quality.size, 2), np.nan)

    evidence = Evidence(np.zeros((4, 2)), np.zeros((4, 2)), observed, observed, None, broken)
    with pytest.raises(ValueError, match="Psi's factors"):
        posterior(FACTOR, evidence, np.zeros(4), 1.0)
