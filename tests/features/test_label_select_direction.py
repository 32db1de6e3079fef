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
    PersistentLimits,
    SelectTilt,
    select_tilt,
    select_votes,
    tilted_factor,
)
from features.stable_keys import stable_keys

RIDGES = (3000.0, 1000.0, 300.0, 100.0, 30.0, 10.0, 3.0, 1.0)
LIMITS = PersistentLimits(max_quality_share=0.98, eigen_floor=0.1)
LOOSE = PersistentLimits(max_quality_share=1.0 - 1e-12, eigen_floor=1e-12)
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
            "generation_id": ["a", "b", "c", "d", "e", "f", "g", "h", "i"],
            "request_id": ["r1", "r1", "r1", "r2", "r2", "r3", "r4", "r4", "r4"],
            "selects": [0, 1, 0, 1, 0, 1, 1, 1, 0],
            "studio_impressions": [1, 1, 0, 2, 3, 1, 1, 1, 1],
            "model_version": ["m1", "m1", "m2", None, "m2", "m1", "m1", "m2", "m2"],
        }
    )
    votes = select_votes(frame, 5, 100)
    # c was never shown, f has no sibling, r4 has two selected siblings over one shown
    assert list(zip(votes.winner.tolist(), votes.loser.tolist(), strict=True)) == [
        (1, 0),
        (3, 4),
        (6, 8),
        (7, 8),
    ]
    # a request's votes share a fold, whichever sibling won
    assert votes.fold[2] == votes.fold[3]
    # model_version codes (null is a level of its own, first: the base) and the indicator gaps
    assert votes.versions == 3
    assert votes.version_gap().tolist() == [[0, 0], [0, -1], [1, -1], [0, 0]]
    # the cap keeps whole requests in the order of their stable keys (r1 < r4 < r2): r4's two votes
    # would pass a cap of 2, so only r1's is kept
    assert stable_keys(["r1", "r4"])[0] < stable_keys(["r1", "r4"])[1]
    assert select_votes(frame, 5, 2).winner.tolist() == [1]
    assert select_votes(frame, 5, 3).winner.tolist() == [1, 6, 7]


def test_votes_within_rows_are_renumbered_among_them() -> None:
    frame = pl.DataFrame(
        {
            "generation_id": ["a", "b", "c", "d", "e"],
            "request_id": ["r1", "r1", "r2", "r2", "r2"],
            "selects": [1, 0, 0, 1, 0],
            "studio_impressions": [1, 1, 1, 1, 1],
            "model_version": ["m1", "m2", "m1", "m1", "m2"],
        }
    )
    votes = select_votes(frame, 5, 100)
    inside = votes.within(np.array([False, False, True, True, True]))
    assert inside.winner.tolist() == [1, 1] and inside.loser.tolist() == [0, 2]
    assert inside.version.tolist() == [0, 0, 1]
    assert inside.voters.tolist() == [True, True, True]


def test_the_tilt_keeps_the_covariance_and_the_explained_share() -> None:
    covariance = np.outer(QUALITY, QUALITY) + np.outer(NUISANCE, NUISANCE) + np.diag(OWN**2)
    factor = one_factor(covariance)
    direction = np.array([0.0, 0.0, 1.0, -1.0, 0.0])
    tilted = tilted_factor(factor, direction, LOOSE)
    total = np.outer(tilted.loading, tilted.loading) + tilted.persistent
    assert np.allclose(total, covariance)

    def explained(loading: np.ndarray) -> float:
        return float(loading @ np.linalg.solve(covariance, loading))

    assert explained(tilted.loading) == pytest.approx(explained(factor.loading))
    weights = np.linalg.solve(total, tilted.loading)
    assert np.allclose(weights / weights[2], direction)
    # a direction against the factor's orientation is not taken
    assert tilted_factor(factor, -factor.loading, LOOSE) is factor


def test_the_tilt_keeps_the_fits_limits_on_psi() -> None:
    """A direction that leaves two signals' residuals nearly copies (or one signal nearly all
    quality) gets Psi floored as the fit floors it."""
    covariance = np.outer(QUALITY, QUALITY) + np.outer(NUISANCE, NUISANCE) + np.diag(OWN**2)
    factor = one_factor(covariance)
    direction = np.array([1.0, -1.0, 0.0, 0.0, 0.0])  # the difference of two near-copies
    loose = tilted_factor(factor, direction + 0.01, LOOSE)
    kept = tilted_factor(factor, direction + 0.01, LIMITS)

    def least_correlation_eigenvalue(psi: np.ndarray) -> float:
        sd = np.sqrt(np.diag(psi))
        return float(np.linalg.eigvalsh(psi / np.outer(sd, sd)).min())

    assert least_correlation_eigenvalue(loose.persistent) < 0.05
    # the floor holds on the scale of Psi's diagonal before flooring (as in the fit)
    assert least_correlation_eigenvalue(kept.persistent) > 0.09
    share = kept.loading**2 / np.diag(covariance)
    assert np.all(np.diag(kept.persistent) >= 0.02 * np.diag(covariance) - 1e-12)
    assert share.max() <= 1.0


def test_persistent_means_condition_on_the_observed_signals_only() -> None:
    data = world(50, 3)
    evidence = Evidence(
        data.evidence.residual,
        data.evidence.noise_variance,
        np.tile([True, False, True, True, False], (150, 1)),
        data.evidence.observable,
    )
    evidence.observed[7] = [True, True, False, False, True]
    evidence.observed[11] = False
    rows = np.array([0, 7, 9, 11])
    means = persistent_means(data.covariance, np.eye(5), evidence, rows)

    def expected(row: int) -> np.ndarray:
        seen = np.flatnonzero(evidence.observed[row])
        system = data.covariance[np.ix_(seen, seen)] + NOISE_SD**2 * np.eye(seen.size)
        return data.covariance[:, seen] @ np.linalg.solve(system, evidence.residual[row, seen])

    for at, row in enumerate(rows[:3]):
        assert np.allclose(means[at], expected(row))
    assert not means[3].any()  # nothing observed: the prior mean


def test_selects_turn_a_factor_that_took_the_nuisance_for_quality() -> None:
    data = world(1500, 0)
    fitted = one_factor(data.covariance)
    turned = tilted(fitted, data)
    assert turned is not fitted
    before, after = ranked(fitted, data), ranked(turned, data)
    assert before < 0.65 and after > before + 0.15
    # the shared nuisance lost its place: the two quality-only signals now weigh most
    weights = np.abs(
        np.linalg.solve(
            np.outer(turned.loading, turned.loading) + turned.persistent, turned.loading
        )
    )
    assert weights[2:4].min() > weights[[0, 1, 4]].max()


def tilted(fitted: FactorParameters, data: World) -> FactorParameters:
    """`select_tilt` of `fitted` on the world's selects, default limits and penalties."""
    return tilt_of(fitted, data).factor


def tilt_of(
    fitted: FactorParameters, data: World, ridges: tuple[float, ...] = RIDGES
) -> SelectTilt:
    """`select_tilt` of `fitted` on the world's selects with `ridges`, folds and per-fold turns
    included."""
    votes = select_votes(data.frame, 5, 10_000)
    return select_tilt(fitted, data.evidence, votes, spread(data), ridges, 200, LIMITS)


def test_each_fold_is_turned_by_the_other_folds_votes_alone() -> None:
    data = world(1500, 0)
    fitted = one_factor(data.covariance)
    tilt = tilt_of(fitted, data, (30.0,))  # one penalty: the choice cannot move with the votes
    assert sorted(tilt.fold_factors) == [0, 1, 2, 3, 4]
    # a request's three siblings share its fold; every generation votes here
    assert (tilt.fold.reshape(-1, 3) == tilt.fold[::3, None]).all() and (tilt.fold >= 0).all()
    # fold 0's requests select at random: fold 0's factor stays, every other fold's and the run's
    # move
    again = tilt_of(fitted, fold_selects_redrawn(data, tilt.fold == 0), (30.0,))
    assert again.fold_factors[0].loading == pytest.approx(tilt.fold_factors[0].loading, abs=1e-6)
    for fold in (1, 2, 3, 4):
        moved = np.abs(again.fold_factors[fold].loading - tilt.fold_factors[fold].loading).max()
        assert moved > 1e-3
    assert np.abs(again.factor.loading - tilt.factor.loading).max() > 1e-3
    # each fold's turn is close to the run's (four fifths of the same votes)
    for factor in tilt.fold_factors.values():
        assert ranked(factor, data) > ranked(fitted, data) + 0.15


def fold_selects_redrawn(data: World, rows: np.ndarray) -> World:
    """`data` with the selects of each request of `rows` given to a sibling drawn at random."""
    drawn = np.random.default_rng(7).integers(0, 3, size=data.quality.size // 3)
    chosen = (np.arange(3)[None, :] == drawn[:, None]).ravel()
    selects = np.where(rows, chosen, data.frame["selects"].to_numpy() > 0)
    frame = data.frame.with_columns(selects=pl.Series(selects.astype(np.int64)))
    return World(data.quality, data.evidence, frame, data.covariance)


def test_selects_that_agree_with_the_factor_or_too_few_leave_it() -> None:
    fitted = one_factor(world(1, 1).covariance)
    direction = np.linalg.solve(
        np.outer(fitted.loading, fitted.loading) + fitted.persistent, fitted.loading
    )
    scale = 1.0 / np.sqrt(direction @ world(1, 1).covariance @ direction)
    agreeing = world(1500, 1, selects_from=lambda rates: rates @ direction * scale)
    kept = tilt_of(fitted, agreeing)
    assert kept.factor is fitted and kept.fold_factors == {}
    assert (kept.fold >= 0).all()  # every generation still votes in its request's fold
    # 40 requests: 80 votes, under the 200 the tilt needs
    few = tilt_of(fitted, world(40, 2))
    assert few.factor is fitted and few.fold_factors == {}
