"""The interval's scale from the viewer halves: ~1 when the model describes the rates, well above 1
when a signal's persistent part is far larger than the model says; the linear maps behind it
reproduce the posterior exactly."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from features.label_config import LabelConfig
from features.label_interval import group_scales, interval_scales
from features.label_model import Design, LabelModel, evidence_of, prior_means_of, score
from features.label_posterior import estimator_maps, long_run_mean, posterior
from features.label_signals import SignalCounts
from tests.features.label_world import fixed_model

SIGNALS = ("like", "favorite", "share", "comment")
INTERCEPT = np.array([0.10, 0.05, 0.04, 0.03])
LOADING = np.array([0.03, 0.015, 0.012, 0.009])
PSI = np.diag([0.01, 0.005, 0.004, 0.003]) ** 2
EXPOSURE_EDGES = (0, 100, 400)


def model_of(persistent: np.ndarray, dof: float = float("inf"), rounds: int = 0) -> LabelModel:
    """A four-signal label model with the given persistent covariance (variance at the intercept)."""
    return fixed_model(
        SIGNALS,
        INTERCEPT,
        LOADING,
        persistent,
        exposure_edges=EXPOSURE_EDGES,
        dof=dof,
        rounds=rounds,
    )


@dataclass(frozen=True)
class Sample:
    rates: np.ndarray
    """The generations' long-run rates."""
    full: SignalCounts
    half_a: SignalCounts
    half_b: SignalCounts
    design: Design


def sample(
    true_persistent: np.ndarray, n: int = 6000, seed: int = 0, share_a: float = 0.5
) -> Sample:
    """Generations with rates a + b q + e (e ~ N(0, true_persistent)), views split between two halves
    (`share_a` of them, on average, in half A)."""
    rng = np.random.default_rng(seed)
    quality = rng.normal(size=n)
    persistent = rng.multivariate_normal(np.zeros(len(SIGNALS)), true_persistent, size=n)
    rates = np.clip(INTERCEPT + quality[:, None] * LOADING + persistent, 0.001, 0.999)
    views = rng.integers(50, 1500, size=n)
    in_a = rng.binomial(views, share_a)
    halves = []
    for seen in (in_a, views - in_a):
        trials = np.repeat(seen[:, None], len(SIGNALS), axis=1)
        successes = rng.binomial(trials, rates).astype(np.float64)
        halves.append((successes, trials.astype(np.float64)))
    observable = np.ones((n, len(SIGNALS)), dtype=bool)

    def counts(successes: np.ndarray, trials: np.ndarray) -> SignalCounts:
        return SignalCounts(SIGNALS, successes, trials, observable, np.ones(n))

    (s_a, n_a), (s_b, n_b) = halves
    exposure = np.searchsorted(np.array(EXPOSURE_EDGES[1:]), views, side="right")
    design = Design(np.full(n, -1), np.zeros(n, dtype=np.int64), exposure)
    return Sample(rates, counts(s_a + s_b, n_a + n_b), counts(s_a, n_a), counts(s_b, n_b), design)


def scales(model: LabelModel, data: Sample) -> np.ndarray:
    config = LabelConfig(interval_min_generations=300)
    return interval_scales(model, data.full, data.half_a, data.half_b, data.design, config)


@pytest.mark.parametrize("share_a", [0.5, 0.15])
def test_a_model_that_describes_the_rates_keeps_its_interval(share_a: float) -> None:
    """Also when the viewer halves are lopsided (the full rate's noise is not half the difference's)."""
    scale = scales(model_of(PSI), sample(PSI, share_a=share_a))
    assert scale.shape == (3,)
    assert np.all(scale >= 1.0)
    assert np.all(scale < 1.1)


def test_a_persistent_part_larger_than_the_model_says_widens_the_interval_as_much_as_needed() -> (
    None
):
    """The truth's persistent sds are 5x the model's: the scale is the mean over a group's
    generations of the label's real squared error against its long-run label (known here) over the
    model's Var(L | y)."""
    model = model_of(PSI)
    data = sample(PSI * 25.0)
    post = score(model, data.full, data.design)
    long_run = long_run_mean(
        model.factor,
        data.rates - INTERCEPT,
        data.full.observable,
        prior_means_of(model, data.design),
        model.prior_variance,
    )
    ratio = (post.mean - long_run) ** 2 / post.long_run_variance
    group = data.design.exposure
    truth = np.array([ratio[group == g].mean() for g in range(3)])
    scale = scales(model, data)
    assert truth[2] > 1.8
    np.testing.assert_allclose(scale[1:], truth[1:], rtol=0.15)
    assert scale[1] < scale[2]
    # group 0 (views < 100, ~200 generations) is too thin for its own factor: the pooled one
    assert scale[1] <= scale[0] <= scale[2]


def test_each_generation_weighs_the_same_in_its_groups_scale() -> None:
    """Coverage counts generations: a group's factor is the mean of their ratios, so one generation
    with a wide interval and a large error cannot set it for the rest (its ratio of sums would)."""
    ratio = np.array([1.2, 1.4, 1.6, 30.0, 0.5, 0.5])
    group = np.array([0, 0, 0, 0, 1, 2])
    scale = group_scales(ratio, group, groups=4, min_generations=2)
    # group 0 has its own mean; groups 1-3 are thin (1 or 0 generations): the pooled mean, 35.2 / 6
    np.testing.assert_allclose(scale, [8.55, 35.2 / 6, 35.2 / 6, 35.2 / 6])
    assert group_scales(np.array([0.5, 0.7]), np.array([0, 0]), 1, 1).tolist() == [1.0]
    assert group_scales(np.array([]), np.array([], dtype=np.int64), 2, 1).tolist() == [1.0, 1.0]
    # an empty group never has its own mean, whatever the minimum
    assert group_scales(np.array([2.0]), np.array([0]), 2, 0).tolist() == [2.0, 2.0]


def test_a_thin_group_gets_the_pooled_scale() -> None:
    model = model_of(PSI)
    data = sample(PSI * 25.0, n=3000)
    config = LabelConfig(interval_min_generations=5000)
    scale = interval_scales(model, data.full, data.half_a, data.half_b, data.design, config)
    assert np.allclose(scale, scale[0])
    assert scale[0] > 1.5


def test_the_maps_reproduce_the_posterior_with_student_t_weights() -> None:
    """E[q | y] = current . r + m / (s^2 lambda), the t weights at their final values."""
    model = model_of(PSI, dof=4.0, rounds=3)
    data = sample(PSI * 4.0, n=500)
    evidence = evidence_of(model, data.full, data.design)
    prior = 0.3 + 0.1 * np.sin(np.arange(500))
    maps = estimator_maps(model.factor, evidence, prior, model.prior_variance)
    post = posterior(model.factor, evidence, prior, model.prior_variance)
    reading = (maps.current * np.where(data.full.observed, evidence.residual, 0.0)).sum(axis=1)
    np.testing.assert_allclose(
        reading + prior * post.variance / model.prior_variance, post.mean, rtol=1e-6, atol=1e-9
    )
    np.testing.assert_allclose(maps.long_run_variance, post.long_run_variance, rtol=1e-6)
