"""The quality direction from the studio's selects: a factor that took a shared nuisance for quality
is turned toward what the selects prefer; a factor the selects agree with, or too few selects, leave
it as it is; the tilt keeps the signals' covariance."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl
import pytest
from scipy.stats import spearmanr

from features.label_posterior import Evidence, FactorParameters, persistent_means, posterior
from features.label_select_direction import (
    select_tilt,
    select_votes,
    tilted_factor,
)

RIDGES = (3000.0, 1000.0, 300.0, 100.0, 30.0, 10.0, 3.0, 1.0)
# signal = quality part + nuisance part: two signals share a strong nuisance, two carry quality only,
# one carries the nuisance only
QUALITY = np.array([0.5, 0.5, 0.6, -0.6, 0.0])
NUISANCE = np.array([1.2, 1.2, 0.0, 0.0, 0.8])
OWN = np.full(5, 0.3)
NOISE_SD = 0.4


@dataclass(frozen=True)
class World:
    quality: np.ndarray
    evidence: Evidence
    frame: pl.DataFrame
    covariance: np.ndarray


def world(
    requests: int, seed: int, selects_from: Callable[[np.ndarray], np.ndarray] | None = None
) -> World:
    """Requests of three siblings; each signal's rate seen with noise; the sibling with the highest
    quality (or `selects_from` its long-run rates) plus a little noise is selected, the other two
    shown."""
    rng = np.random.default_rng(seed)
    n = 3 * requests
    quality, nuisance = rng.normal(size=n), rng.normal(size=n)
    persistent = np.outer(quality, QUALITY) + np.outer(nuisance, NUISANCE)
    persistent += rng.normal(size=(n, 5)) * OWN
    seen = persistent + rng.normal(size=(n, 5)) * NOISE_SD
    key = quality if selects_from is None else selects_from(persistent)
    key = key + rng.gumbel(size=n) * 0.3
    by_request = key.reshape(requests, 3)
    selected = (by_request == by_request.max(axis=1, keepdims=True)).ravel()
    frame = pl.DataFrame(
        {
            "generation_id": [f"g{i:06d}" for i in range(n)],
            "request_id": [f"r{i // 3:06d}" for i in range(n)],
            "selects": selected.astype(np.int64),
            "studio_impressions": np.ones(n, dtype=np.int64),
            "model_version": ["m1"] * n,
        }
    )
    evidence = Evidence(
        residual=seen,
        noise_variance=np.full((n, 5), NOISE_SD**2),
        observed=np.ones((n, 5), dtype=bool),
        observable=np.ones((n, 5), dtype=bool),
    )
    covariance = np.outer(QUALITY, QUALITY) + np.outer(NUISANCE, NUISANCE) + np.diag(OWN**2)
    return World(quality, evidence, frame, covariance)


def one_factor(covariance: np.ndarray) -> FactorParameters:
    """The one-factor fit's answer: the leading component of the covariance taken for quality."""
    values, vectors = np.linalg.eigh(covariance)
    loading = vectors[:, -1] * np.sqrt(values[-1]) * 0.95
    loading *= np.sign(loading[2] - loading[3])
    return FactorParameters(loading, covariance - np.outer(loading, loading), np.eye(5))


def spread(data: World) -> np.ndarray:
    """The signals' long-run sds."""
    return np.sqrt(np.diag(data.covariance))


def ranked(factor: FactorParameters, data: World) -> float:
    mean = posterior(factor, data.evidence, np.zeros(data.quality.size), 1.0, False).mean
    return float(spearmanr(mean, data.quality)[0])


def test_votes_pair_the_selected_sibling_with_each_shown_one() -> None:
    frame = pl.DataFrame(
        {
            "generation_id": ["a", "b", "c", "d", "e", "f"],
            "request_id": ["r1", "r1", "r1", "r2", "r2", "r3"],
            "selects": [0, 1, 0, 1, 0, 1],
            "studio_impressions": [1, 1, 0, 2, 3, 1],
            "model_version": ["m1", "m1", "m2", None, "m2", "m1"],
        }
    )
    votes = select_votes(frame, 5)
    assert votes.winner.tolist() == [1, 3] and votes.loser.tolist() == [0, 4]
    assert votes.fold.tolist() == select_votes(frame, 5).fold.tolist()
    assert ((votes.fold >= 0) & (votes.fold < 5)).all()
    # model_version indicators beyond the first level (null is a level of its own)
    assert votes.covariates.shape == (6, 2)
    assert votes.covariates[:, 0].tolist() == [1, 1, 0, 0, 0, 1]


def test_the_tilt_keeps_the_covariance_and_the_explained_share() -> None:
    covariance = np.outer(QUALITY, QUALITY) + np.outer(NUISANCE, NUISANCE) + np.diag(OWN**2)
    factor = one_factor(covariance)
    direction = np.array([0.0, 0.0, 1.0, -1.0, 0.0])
    tilted = tilted_factor(factor, direction)
    total = np.outer(tilted.loading, tilted.loading) + tilted.persistent
    assert np.allclose(total, covariance)

    def explained(loading: np.ndarray) -> float:
        return float(loading @ np.linalg.solve(covariance, loading))

    assert explained(tilted.loading) == pytest.approx(explained(factor.loading))
    weights = np.linalg.solve(total, tilted.loading)
    assert np.allclose(weights / weights[2], direction)
    assert np.linalg.eigvalsh(tilted.persistent).min() > 0
    # a direction against the factor's orientation is not taken
    assert tilted_factor(factor, -factor.loading) is factor


def test_persistent_means_condition_on_the_observed_signals_only() -> None:
    data = world(50, 3)
    evidence = Evidence(
        data.evidence.residual,
        data.evidence.noise_variance,
        np.tile([True, False, True, True, False], (150, 1)),
        data.evidence.observable,
    )
    rows = np.array([0, 7, 9])
    means = persistent_means(data.covariance, np.eye(5), evidence, rows)
    seen = [0, 2, 3]
    system = data.covariance[np.ix_(seen, seen)] + NOISE_SD**2 * np.eye(3)
    expected = data.covariance[:, seen] @ np.linalg.solve(
        system, evidence.residual[rows][:, seen].T
    )
    assert np.allclose(means, expected.T)


def test_selects_turn_a_factor_that_took_the_nuisance_for_quality() -> None:
    data = world(1500, 0)
    fitted = one_factor(data.covariance)
    votes = select_votes(data.frame, 5)
    tilted = select_tilt(fitted, data.evidence, votes, spread(data), RIDGES, 200)
    assert tilted is not fitted
    before, after = ranked(fitted, data), ranked(tilted, data)
    assert before < 0.65 and after > before + 0.15
    # the shared nuisance lost its place: the two quality-only signals now weigh most
    weights = np.abs(
        np.linalg.solve(
            np.outer(tilted.loading, tilted.loading) + tilted.persistent, tilted.loading
        )
    )
    assert weights[2:4].min() > weights[[0, 1, 4]].max()


def test_selects_that_agree_with_the_factor_or_too_few_leave_it() -> None:
    fitted = one_factor(world(1, 1).covariance)
    direction = np.linalg.solve(
        np.outer(fitted.loading, fitted.loading) + fitted.persistent, fitted.loading
    )
    scale = 1.0 / np.sqrt(direction @ world(1, 1).covariance @ direction)
    agreeing = world(1500, 1, selects_from=lambda rates: rates @ direction * scale)
    assert (
        select_tilt(
            fitted,
            agreeing.evidence,
            select_votes(agreeing.frame, 5),
            spread(agreeing),
            RIDGES,
            200,
        )
        is fitted
    )
    few = world(40, 2)
    assert (
        select_tilt(fitted, few.evidence, select_votes(few.frame, 5), spread(few), RIDGES, 200)
        is fitted
    )
