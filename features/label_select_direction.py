"""The quality direction the studio's selects prefer, where they say the one-factor fit is wrong.

The one-factor fit takes the strongest common part of the signals' long-run rates for quality. When
some signals share an appeal that is not quality (a video that draws views and watch time whatever
its quality), that shared part pulls the factor toward it. The creators' selects in the studio see
quality itself: each select prefers one sibling over another shown beside it. So the selects pick
the direction: a conditional logit of each select on the siblings' estimated long-run rates,

    P(winner selected over loser) = sigmoid(gamma . (mu_w - mu_l) + c . (x_w - x_l)),
    gamma = a * gamma_fit + delta / sd,    penalty: ridge * |delta|^2,

with mu = E[long-run residual rates | y] under their fitted covariance C, gamma_fit = C^-1 b the
fitted model's direction, x the model_version columns (A/B siblings differ by version, which the
prior carries, not the signals), sd each signal's long-run sd (at least its equal-weight one). The
ridge comes from cross-validation over requests with the one-standard-error rule: the fitted
direction stays (ridge infinite) unless the held-out selects favour a tilt by more than their noise.
The chosen gamma becomes the loading b' = c C gamma with the fitted model's share of explained
variance (b' C^-1 b' = b C^-1 b), and Psi' = C - b' b': the signals' covariance C stays, only which
part of it is quality moves, within the fit's own limits on Psi (no signal more than
`max_quality_share` quality, no residual correlation direction below `residual_eigen_floor`).
The votes are those of a fixed, quality-blind sample of requests (the smallest stable keys of
request_id, at most `max_votes` votes), so the cost is bounded and the evidence stays whole at any
scale; a request's votes share one fold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from features.label_factor import nearest_psd
from features.label_posterior import Evidence, FactorParameters, persistent_means
from features.stable_keys import stable_keys

STUDIO_COLUMNS: tuple[str, ...] = ("request_id", "selects", "studio_impressions", "model_version")
"""What `select_votes` reads of the frame."""


NEWTON_STEPS: int = 50
NEWTON_TOLERANCE: float = 1e-10
"""Newton stops when the predicted decrease of the loss falls below this share of it."""
JITTER: float = 1e-10
"""Relative ridge on the Hessian: a model_version no vote separates leaves it solvable."""


@dataclass(frozen=True)
class SelectVotes:
    """Studio selects as rows of the full frame: `winner` was selected over `loser`, a sibling shown
    beside it and not selected; `fold` is the vote's cross-validation fold (by its request)."""

    winner: np.ndarray
    loser: np.ndarray
    fold: np.ndarray
    version: np.ndarray
    """Per generation (all rows): its model_version's code (0 .. versions - 1)."""
    versions: int

    def within(self, rows: np.ndarray) -> SelectVotes:
        """The votes between two generations of the `rows` mask, as positions among those rows."""
        keep = rows[self.winner] & rows[self.loser]
        position = np.cumsum(rows) - 1
        return SelectVotes(
            position[self.winner[keep]],
            position[self.loser[keep]],
            self.fold[keep],
            self.version[rows],
            self.versions,
        )

    @property
    def voters(self) -> np.ndarray:
        """Mask of the rows that take part in a vote."""
        mask = np.zeros(self.version.size, dtype=bool)
        mask[self.winner] = mask[self.loser] = True
        return mask

    def version_gap(self) -> np.ndarray:
        """Per vote: winner's minus loser's model_version indicators (the first version is the base)."""
        identity = np.eye(self.versions)[:, 1:]
        return identity[self.version[self.winner]] - identity[self.version[self.loser]]


def select_votes(frame: pl.DataFrame, folds: int, max_votes: int) -> SelectVotes:
    """The select votes of `frame` (sorted by generation_id; request_id, selects, studio_impressions,
    model_version) among the requests with the smallest stable keys, at most `max_votes` votes; a
    vote's fold is its request's key modulo `folds` (a request's votes stay together)."""
    rows = frame.select(
        "request_id",
        selected=pl.col("selects").fill_null(0) > 0,
        shown=pl.col("studio_impressions").fill_null(0) > 0,
    ).with_row_index("row")
    winners = rows.filter("selected").select("request_id", winner="row")
    losers = rows.filter(~pl.col("selected") & pl.col("shown")).select("request_id", loser="row")
    votes = winners.join(losers, on="request_id")
    requests = votes.group_by("request_id").len("votes")
    keys = stable_keys(requests["request_id"].cast(pl.String).to_list())
    requests = (
        requests.with_columns(key=pl.Series(keys, dtype=pl.UInt64))
        .sort("key")
        .filter(pl.col("votes").cum_sum() <= max_votes)
    )
    votes = votes.join(requests, on="request_id").sort("winner", "loser")
    codes = frame["model_version"].cast(pl.String).fill_null("").rank("dense").to_numpy() - 1
    return SelectVotes(
        winner=votes["winner"].to_numpy().astype(np.int64),
        loser=votes["loser"].to_numpy().astype(np.int64),
        fold=(votes["key"].to_numpy() % np.uint64(max(folds, 1))).astype(np.int64),
        version=codes.astype(np.int64),
        versions=int(codes.max()) + 1 if codes.size else 1,
    )


@dataclass(frozen=True)
class _Logit:
    """The select logit's data: differences of the voters' long-run estimates and covariates."""

    gap: np.ndarray
    covariate_gap: np.ndarray
    fitted_direction: np.ndarray
    spread: np.ndarray

    def rows(self, keep: np.ndarray) -> _Logit:
        return _Logit(self.gap[keep], self.covariate_gap[keep], self.fitted_direction, self.spread)


def _fit_logit(
    logit: _Logit, ridge: float | None, start: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(gamma, c, all parameters) of the penalized select logit by Newton's method (a convex loss of
    at most 1 + K + versions parameters) from `start` (a fit without delta widens with zeros);
    `ridge` None holds delta at 0 (the fitted direction)."""
    k = logit.gap.shape[1]
    along = logit.gap @ logit.fitted_direction
    parts = [along[:, None]]
    if ridge is not None:
        parts.append(logit.gap / logit.spread[None, :])
    parts.append(logit.covariate_gap)
    design = np.concatenate(parts, axis=1)
    penalty = np.zeros(design.shape[1])
    if ridge is not None:
        penalty[1 : 1 + k] = ridge
    params = np.zeros(design.shape[1])
    params[0] = 1.0
    if start is not None and start.size == design.shape[1]:
        params = start.copy()
    elif start is not None:
        params[0] = start[0]
        params[design.shape[1] - logit.covariate_gap.shape[1] :] = start[1:]

    def loss(theta: np.ndarray) -> float:
        return float(np.logaddexp(0.0, -(design @ theta)).sum() + penalty @ theta**2)

    current = loss(params)
    for _ in range(NEWTON_STEPS):
        z = design @ params
        against = np.exp(-np.logaddexp(0.0, z))
        gradient = -(design.T @ against) + 2.0 * penalty * params
        hessian = (design * (against * (1.0 - against))[:, None]).T @ design
        hessian[np.diag_indices_from(hessian)] += 2.0 * penalty + JITTER * (1.0 + hessian.trace())
        step = np.linalg.solve(hessian, gradient)
        decrease = float(gradient @ step)
        if decrease <= NEWTON_TOLERANCE * max(1.0, abs(current)):
            break
        size = 1.0
        while size > 1e-8 and loss(params - size * step) > current - 1e-4 * size * decrease:
            size /= 2.0
        params = params - size * step
        current = loss(params)
    delta = params[1 : 1 + k] if ridge is not None else np.zeros(k)
    covariates = params[design.shape[1] - logit.covariate_gap.shape[1] :]
    return params[0] * logit.fitted_direction + delta / logit.spread, covariates, params


def _held_out_fits(
    logit: _Logit, fold: np.ndarray, candidates: list[float | None]
) -> tuple[list[np.ndarray], list[dict[int, np.ndarray]]]:
    """Per candidate penalty: each vote's log-likelihood under the logit fitted on the other folds,
    and per fold that fit's direction (within a fold, each fit starts from the previous, stronger
    penalty's)."""
    held = [np.zeros(fold.size) for _ in candidates]
    directions: list[dict[int, np.ndarray]] = [{} for _ in candidates]
    for part in np.unique(fold):
        test = fold == part
        train = logit.rows(~test)
        start = None
        for likelihood, fits, ridge in zip(held, directions, candidates, strict=True):
            gamma, c, start = _fit_logit(train, ridge, start)
            z = logit.gap[test] @ gamma + logit.covariate_gap[test] @ c
            likelihood[test] = -np.logaddexp(0.0, -z)
            fits[int(part)] = gamma
    return held, directions


def chosen_ridge(
    logit: _Logit, fold: np.ndarray, ridges: tuple[float, ...]
) -> tuple[float | None, dict[int, np.ndarray]]:
    """The strongest penalty (None: no tilt at all) whose held-out likelihood is within one standard
    error of the best one's, and per fold the direction fitted without it at that penalty."""
    candidates: list[float | None] = [None, *sorted(ridges, reverse=True)]
    held, directions = _held_out_fits(logit, fold, candidates)
    best = int(np.argmax([h.sum() for h in held]))
    for at, likelihood in enumerate(held):
        gap = held[best] - likelihood
        if gap.sum() <= gap.std() * np.sqrt(gap.size):
            return candidates[at], directions[at]
    return candidates[best], directions[best]


@dataclass(frozen=True)
class PersistentLimits:
    """The fit's limits on Psi (features.label_factor.persistent_covariance)."""

    max_quality_share: float
    eigen_floor: float


def tilted_factor(
    factor: FactorParameters, direction: np.ndarray, limits: PersistentLimits
) -> FactorParameters:
    """The factor whose quality is `direction` . mu, with the same signal covariance C = b b' + Psi
    and the same share of it explained, Psi held to `limits` as the fit holds it (an unusable
    direction leaves `factor` as it is)."""
    covariance = np.outer(factor.loading, factor.loading) + factor.persistent
    explained = float(factor.loading @ np.linalg.solve(covariance, factor.loading))
    image = covariance @ direction
    size = float(direction @ image)
    if not size > 0 or not direction @ factor.loading > 0 or not 0 < explained < 1:
        return factor
    loading = image * np.sqrt(explained / size)
    persistent = covariance - np.outer(loading, loading)
    variance = np.diag(covariance)
    diagonal = np.maximum(np.diag(persistent), (1.0 - limits.max_quality_share) * variance)
    np.fill_diagonal(persistent, diagonal)
    persistent = nearest_psd(persistent, np.sqrt(diagonal), limits.eigen_floor)
    return FactorParameters(
        loading,
        (persistent + persistent.T) / 2,
        factor.noise_correlation,
        factor.dof,
        factor.rounds,
    )


@dataclass(frozen=True)
class SelectTilt:
    """What the selects did to the fit: `factor`, turned toward their direction (the fitted one when
    they favour none); `fold`: per row of the frame the votes index, the fold of the request it
    votes in (-1 if none); per fold, the factor turned by the other folds' votes alone (empty when
    not turned), so a check of the labels against the selects can judge each vote by labels its own
    did not shape."""

    factor: FactorParameters
    fold: np.ndarray
    fold_factors: dict[int, FactorParameters]


def voter_folds(votes: SelectVotes) -> np.ndarray:
    """Per row of the frame: the fold of the request it votes in (-1 if it takes part in no vote)."""
    fold = np.full(votes.version.size, -1, dtype=np.int64)
    fold[votes.winner] = votes.fold
    fold[votes.loser] = votes.fold
    return fold


def select_tilt(
    factor: FactorParameters,
    evidence: Evidence,
    votes: SelectVotes,
    long_run_sd: np.ndarray,
    ridges: tuple[float, ...],
    min_votes: int,
    limits: PersistentLimits,
) -> SelectTilt:
    """`factor` turned toward the quality direction the selects prefer (see the module docstring),
    with the same turn fitted without each fold's votes; unchanged with fewer than `min_votes` votes
    or when no tilt beats the fitted direction."""
    unchanged = SelectTilt(factor, voter_folds(votes), {})
    if votes.winner.size < min_votes or not np.any(factor.loading):
        return unchanged
    covariance = np.outer(factor.loading, factor.loading) + factor.persistent
    voters = np.flatnonzero(votes.voters)
    means = np.zeros(evidence.observed.shape)
    means[voters] = persistent_means(covariance, factor.noise_correlation, evidence, voters)
    spread = np.maximum(long_run_sd, np.sqrt(np.clip(np.diag(covariance), 0.0, None)))
    logit = _Logit(
        gap=means[votes.winner] - means[votes.loser],
        covariate_gap=votes.version_gap(),
        fitted_direction=np.linalg.solve(covariance, factor.loading),
        spread=np.where(spread > 0, spread, 1.0),
    )
    ridge, held_out = chosen_ridge(logit, votes.fold, ridges)
    if ridge is None:
        return unchanged
    direction, _, _ = _fit_logit(logit, ridge)
    fold_factors = {part: tilted_factor(factor, gamma, limits) for part, gamma in held_out.items()}
    return SelectTilt(tilted_factor(factor, direction, limits), unchanged.fold, fold_factors)
