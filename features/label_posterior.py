"""The posterior of each generation's latent quality under the one-factor label model (batched).

For generation i with residual rates r_i = y_i - a_i on its observed signals:

    Sigma_i  = Psi_i + S_i R S_i        (S_i = diag of the sampling sds: persistent + noise covariance)
    lambda_i = b' Sigma_i^-1 b + 1 / s^2
    E[q | y] = (b' Sigma_i^-1 r_i + m_i / s^2) / lambda_i,   Var(q | y) = 1 / lambda_i

A signal the generation has no trials for is left out of Sigma_i, b and r_i (it contributes nothing).
Persistent residuals are heavy-tailed (a signal's link is rarely linear): each is Student-t, a scale
mixture, so Psi_i = W_i^-1/2 Psi W_i^-1/2 with w_ik = (dof + 1) / (dof + e_ik^2 / (Psi_kk + V_ik)),
e_ik the residual left by the current E[q | y], refined for a few rounds: a rate far from what the
generation's quality predicts weighs less, now and in the long run. The same rounds re-evaluate each
sampling variance V_ik at the rate the current E[q | y] predicts (where the evidence says how): a
variance taken at the generation's own reading moves with that reading's noise (a low draw of a rare
rate claims less noise, weighs more, and pulls the label low). They also read Psi's factors h_ik
there, where the evidence gives them: Psi_i = W_i^-1/2 H_i^1/2 Psi H_i^1/2 W_i^-1/2 (a rate's
persistent spread may grow with the rate, as a Beta's does).
The long-run label L_i is the same estimator with no sampling noise on every signal the generation can
ever show (Sigma = Psi_i there): with the weights and factors held at their final values, E[L | y] =
E[q | y] and Var(L | y) = 1 / lambda_i - 1 / lambda_inf_i.
Solves are batched numpy over chunks of generations (a few K x K systems each, K <= 10), on
`SOLVE_THREADS` threads.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial

import numpy as np

CHUNK_ROWS: int = 8_192
"""Generations solved per batch (bounds the K x K x N working arrays)."""
SOLVE_THREADS: int = max(
    1,
    min(
        4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    ),
)
"""Batches solved at once (numpy's batched solves and array arithmetic release the GIL)."""
MIN_THREADED_ROWS: int = 1_024
"""Fewer rows per thread than this are solved in one batch (a thread would cost more than it saves)."""
RIDGE: float = 1e-10
"""Added to each system's diagonal, relative to its scale: exact duplicates stay solvable."""


@dataclass(frozen=True)
class FactorParameters:
    """What the posterior needs of a fitted model: loadings, persistent covariance, noise correlation,
    and the robustness of the persistent residuals (Student-t degrees of freedom, reweighting rounds)."""

    loading: np.ndarray
    persistent: np.ndarray
    noise_correlation: np.ndarray
    dof: float = float("inf")
    rounds: int = 0


@dataclass(frozen=True)
class Evidence:
    """What the data says of each generation, on its signals (N x K each)."""

    residual: np.ndarray
    """y - a where observed (anything elsewhere)."""
    noise_variance: np.ndarray
    """Sampling variance of the rate where observed (anything elsewhere)."""
    observed: np.ndarray
    observable: np.ndarray
    """Signals the generation can ever show (for the long-run label)."""
    noise_variance_at: Callable[[slice, np.ndarray], np.ndarray] | None = None
    """The sampling variances of the rows `part` (len x K) at the rates their quality `q` predicts;
    None: `noise_variance` throughout."""
    persistent_scale_at: Callable[[slice, np.ndarray], np.ndarray] | None = None
    """Factors h on Psi's rows and columns (Psi_i = H^1/2 Psi H^1/2) of the rows `part` at the rates
    their quality `q` predicts; None: Psi throughout."""


@dataclass(frozen=True)
class Posterior:
    """Per generation: E[q | y], Var(q | y), Var(L | y) and the data's information b' Sigma^-1 b."""

    mean: np.ndarray
    variance: np.ndarray
    long_run_variance: np.ndarray
    information: np.ndarray
    """b' Sigma_i^-1 b (0 without data): with `weighted_residual` u_i = b' Sigma_i^-1 r_i, the
    prior-free evidence about q (E[u | q] = information * q)."""
    weighted_residual: np.ndarray


@dataclass(frozen=True)
class _Rows:
    """One batch of generations: which signals enter, their residuals, sampling sds and t weights."""

    used: np.ndarray
    residual: np.ndarray
    noise_sd: np.ndarray
    weight: np.ndarray
    """The t weights over Psi's factors (W / H; 1 before any refining)."""
    reweighted: bool = True
    """False while every weight is 1 (saves scaling Psi)."""
    variance_at: Callable[[np.ndarray], np.ndarray] | None = None
    """The rows' sampling variances at the rates a quality predicts (None: keep `noise_sd`)."""
    noise_free: bool = False
    """No row of the whole evidence has sampling noise (the long run): every system is Psi itself,
    solved once per pattern. Set per evidence, not per batch, so that a row is solved the same way
    whichever batch it falls in."""
    scale_at: Callable[[np.ndarray], np.ndarray] | None = None
    """The rows' factors on Psi at the rates a quality predicts (None: Psi as it is)."""


def _patterns(used: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(signals, rows) of each pattern of signals entering among the rows of `used` (N x K), rows
    with none left out."""
    k = used.shape[1]
    codes = used.astype(np.int64) @ (1 << np.arange(k, dtype=np.int64))
    for code in np.unique(codes):
        signals = np.flatnonzero((int(code) >> np.arange(k)) & 1)
        if signals.size:
            yield signals, np.flatnonzero(codes == code)


def _solve(factor: FactorParameters, rows: _Rows) -> tuple[np.ndarray, np.ndarray]:
    """(b' Sigma^-1 b, b' Sigma^-1 r) per generation of the batch, one stacked solve per pattern of
    signals entering (a generation with none gets 0, 0).

    With the t weights W, Sigma = W^-1/2 (Psi + D R D) W^-1/2 (D = W^1/2 S), so the system solved is
    Psi + D R D against W^1/2 b and W^1/2 r: the same forms, built from fewer K x K x N arrays."""
    used = rows.used
    n, k = used.shape
    info, weighted = np.zeros(n), np.zeros(n)
    for signals, members in _patterns(used):
        everything = signals.size == k and members.size == n
        pick = (slice(None), slice(None)) if everything else np.ix_(members, signals)
        loading = np.broadcast_to(factor.loading[signals], (members.size, signals.size))
        residual = rows.residual[pick]
        spread = rows.noise_sd[pick]
        if rows.reweighted:
            root = np.sqrt(rows.weight[pick])
            spread, loading, residual = spread * root, loading * root, residual * root
        persistent = factor.persistent[np.ix_(signals, signals)]
        if rows.noise_free:
            forms = _shared_forms(persistent, loading.T, residual.T)
        else:
            # a generation per column: each step of the elimination is one pass over the rows
            spread = np.ascontiguousarray(spread.T)
            correlation = factor.noise_correlation[np.ix_(signals, signals)]
            system = correlation[:, :, None] * spread[:, None]
            system *= spread[None]
            system += persistent[:, :, None]
            forms = _stacked_forms(system, loading.T, residual.T)
        info[members], weighted[members] = forms
    return info, weighted


def _shared_forms(
    system: np.ndarray, loading: np.ndarray, residual: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(b' A^-1 b, b' A^-1 r) for one K x K system A and N columns b, r (`loading`, `residual`: K x N)."""
    ridged = system.copy()
    diagonal = np.arange(system.shape[0])
    ridged[diagonal, diagonal] *= 1.0 + RIDGE
    solved = np.linalg.solve(ridged, np.concatenate([loading, residual], axis=1))
    count = loading.shape[1]
    return (
        np.einsum("kn,kn->n", solved[:, :count], loading),
        np.einsum("kn,kn->n", solved[:, count:], loading),
    )


def _stacked_forms(
    system: np.ndarray, loading: np.ndarray, residual: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(b' A^-1 b, b' A^-1 r) for N symmetric positive-definite systems stacked as `system` (K x K x N;
    only its lower triangle is read, and it is overwritten), b and r given as `loading`, `residual`
    (K x N).

    Symmetric elimination (A = L D L', L unit lower triangular) across the N systems at once: with
    c = L^-1 b and e = L^-1 r, b' A^-1 b = sum_j c_j^2 / D_j and b' A^-1 r = sum_j c_j e_j / D_j.
    It costs about K^2 / 2 array passes whatever N is: for the few large patterns a batch holds (K
    <= 10, thousands of rows) several times faster than a batched LAPACK solve, which pays per system;
    slower for many patterns of a handful of rows each."""
    diagonal = np.arange(system.shape[0])
    system[diagonal, diagonal] *= 1.0 + RIDGE
    right = np.stack([loading, residual])
    k, n = loading.shape
    info, weighted = np.zeros(n), np.zeros(n)
    for j in range(k):
        if not np.all(system[j, j] > 0.0):
            raise np.linalg.LinAlgError("a posterior system is not positive definite")
        inverse_pivot = 1.0 / system[j, j]
        scaled = right[0, j] * inverse_pivot
        info += scaled * right[0, j]
        weighted += scaled * right[1, j]
        for i in range(j + 1, k):
            multiplier = system[i, j] * inverse_pivot
            system[i, j + 1 : i + 1] -= multiplier * system[j + 1 : i + 1, j]
            right[:, i] -= multiplier * right[:, j]
    return info, weighted


def _t_weights(
    factor: FactorParameters, rows: _Rows, quality: np.ndarray, scale: np.ndarray | None
) -> np.ndarray:
    """Student-t mixture weights of the persistent residuals given the current quality (Psi's
    diagonal times `scale`, where given)."""
    psi = np.diag(factor.persistent)[None, :]
    if scale is not None:
        psi = psi * scale
    left = rows.residual - factor.loading[None, :] * quality[:, None]
    spread = psi + np.where(rows.used, rows.noise_sd, 0.0) ** 2
    weight = (factor.dof + 1.0) / (factor.dof + left**2 / np.clip(spread, 1e-300, None))
    return np.where(rows.used, weight, 1.0)


def _refined(factor: FactorParameters, rows: _Rows, quality: np.ndarray) -> _Rows:
    """The batch with its sampling sds at the rates `quality` predicts and its weights there: the t
    weights over Psi's factors H (W^-1/2 H^1/2 Psi H^1/2 W^-1/2 is Psi weighted by W / H)."""
    if rows.variance_at is not None:
        rows = replace(rows, noise_sd=np.sqrt(np.clip(rows.variance_at(quality), 0.0, None)))
    scale = None if rows.scale_at is None else rows.scale_at(quality)
    if scale is not None and not np.all(np.isfinite(scale) & (scale > 0.0)):
        raise ValueError("Psi's factors must be finite and positive (a NaN intercept or quality?)")
    if scale is None and not np.isfinite(factor.dof):
        return rows
    weight = (
        _t_weights(factor, rows, quality, scale)
        if np.isfinite(factor.dof)
        else np.ones(rows.used.shape)
    )
    return replace(rows, weight=weight if scale is None else weight / scale, reweighted=True)


def _batch(
    factor: FactorParameters,
    rows: _Rows,
    prior_mean: np.ndarray,
    prior_variance: float,
) -> tuple[np.ndarray, np.ndarray, _Rows]:
    """(information, weighted residual, the batch as last solved) after the refining rounds."""
    info, weighted = _solve(factor, rows)
    refining = np.isfinite(factor.dof) or rows.variance_at is not None or rows.scale_at is not None
    for _ in range(factor.rounds if refining else 0):
        quality = (weighted + prior_mean / prior_variance) / (info + 1.0 / prior_variance)
        rows = _refined(factor, rows, quality)
        info, weighted = _solve(factor, rows)
    return info, weighted, rows


def _noise_free(evidence: Evidence) -> bool:
    """Whether no observed rate of the evidence carries sampling noise, now or after refining."""
    if evidence.noise_variance_at is not None:
        return False
    return not np.any(np.where(evidence.observed, evidence.noise_variance, 0.0))


def _first_rows(evidence: Evidence, part: slice, noise_free: bool) -> _Rows:
    """A batch of the evidence before any refining (every t weight 1); `noise_free`: the whole
    evidence has no sampling noise (see `_Rows.noise_free`)."""
    observed = evidence.observed[part]
    at = evidence.noise_variance_at
    return _Rows(
        observed,
        evidence.residual[part],
        np.sqrt(np.clip(evidence.noise_variance[part], 0.0, None)),
        np.ones(observed.shape),
        reweighted=False,
        variance_at=None if at is None else partial(at, part),
        noise_free=noise_free,
        scale_at=None
        if evidence.persistent_scale_at is None
        else partial(evidence.persistent_scale_at, part),
    )


def _chunks(total: int) -> list[slice]:
    """Batches of at most CHUNK_ROWS rows and of equal size, as many as a multiple of SOLVE_THREADS
    (the threads finish together) unless the rows are too few to be worth a thread."""
    count = -(-total // CHUNK_ROWS)
    if total >= MIN_THREADED_ROWS * SOLVE_THREADS:
        count = -(-count // SOLVE_THREADS) * SOLVE_THREADS
    edges = np.linspace(0, total, count + 1).round().astype(int)
    return [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]


def _each_chunk(total: int, work: Callable[[slice], None]) -> None:
    """`work` on every batch of rows, `SOLVE_THREADS` at a time (each batch writes only its rows, so
    the result does not depend on the order they finish in)."""
    parts = _chunks(total)
    if SOLVE_THREADS <= 1 or len(parts) <= 1:
        for part in parts:
            work(part)
        return
    with ThreadPoolExecutor(SOLVE_THREADS) as pool:
        list(pool.map(work, parts))  # consumed so that a batch's error is raised here


def posterior(
    factor: FactorParameters,
    evidence: Evidence,
    prior_mean: np.ndarray,
    prior_variance: float,
    long_run: bool = True,
) -> Posterior:
    """The posterior of q and of the long-run label for every generation (see the module docstring);
    without `long_run` the long-run variance is left at 0 (saves a solve)."""
    total = evidence.observed.shape[0]
    info, weighted, long_info = np.zeros(total), np.zeros(total), np.zeros(total)
    prior_mean = np.broadcast_to(np.asarray(prior_mean, dtype=np.float64), (total,))

    noise_free = _noise_free(evidence)

    def solve_part(part: slice) -> None:
        rows = _first_rows(evidence, part, noise_free)
        info[part], weighted[part], last = _batch(factor, rows, prior_mean[part], prior_variance)
        weight = last.weight
        if long_run:
            observable = evidence.observable[part]
            zeros = np.zeros(observable.shape)
            noiseless = _Rows(observable, zeros, zeros, weight, noise_free=True)
            long_info[part], _ = _solve(factor, noiseless)

    _each_chunk(total, solve_part)
    precision = info + 1.0 / prior_variance
    variance = 1.0 / precision
    long_run_variance = np.zeros(total)
    if long_run:
        long_run_variance = np.clip(variance - 1.0 / (long_info + 1.0 / prior_variance), 0.0, None)
    return Posterior(
        mean=(weighted + prior_mean / prior_variance) * variance,
        variance=variance,
        long_run_variance=long_run_variance,
        information=info,
        weighted_residual=weighted,
    )


def information(
    factor: FactorParameters,
    evidence: Evidence,
    prior_mean: np.ndarray | float = 0.0,
    prior_variance: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(b' Sigma^-1 b, b' Sigma^-1 r) per generation, Gaussian residuals (prior-free evidence); where
    the evidence re-evaluates its sampling variances (and Psi's factors), they are read once at the
    quality the (prior_mean, prior_variance) posterior gives (the prior only sets where they are
    read; one round, a full solve, is what the prior needs: the labels' own rounds refine them
    further)."""
    total = evidence.observed.shape[0]
    info, weighted = np.zeros(total), np.zeros(total)
    prior = np.broadcast_to(np.asarray(prior_mean, dtype=np.float64), (total,))
    read_at_quality = (
        evidence.noise_variance_at is not None or evidence.persistent_scale_at is not None
    )
    rounds = min(factor.rounds, 1) if read_at_quality else 0
    gaussian = FactorParameters(
        factor.loading, factor.persistent, factor.noise_correlation, rounds=rounds
    )

    noise_free = _noise_free(evidence)

    def solve_part(part: slice) -> None:
        rows = _first_rows(evidence, part, noise_free)
        info[part], weighted[part], _ = _batch(gaussian, rows, prior[part], prior_variance)

    _each_chunk(total, solve_part)
    return info, weighted


def long_run_mean(
    factor: FactorParameters,
    residual: np.ndarray,
    observable: np.ndarray,
    prior_mean: np.ndarray,
    prior_variance: float,
    persistent_scale_at: Callable[[slice, np.ndarray], np.ndarray] | None = None,
) -> np.ndarray:
    """L = E[q | the long-run rates] from residual long-run rates (no sampling noise) on `observable`."""
    zeros = np.zeros_like(residual)
    evidence = Evidence(
        residual, zeros, observable, observable, persistent_scale_at=persistent_scale_at
    )
    post = posterior(factor, evidence, prior_mean, prior_variance)
    return post.mean


@dataclass(frozen=True)
class EstimatorMaps:
    """The posterior mean and the long-run label as linear maps of the residual rates, each
    generation's Student-t weights and Psi's factors held at their final values (the long-run label
    itself reads its factors at its own quality: the maps are exact for E[q | y], a linearisation
    for L):

        E[q | y] - L = current . r - long_run . mu + prior_weight * m

    (r the observed residual rates, mu the long-run ones, m the prior mean), and the model's
    Var(L | y) = 1 / lambda - 1 / lambda_inf."""

    current: np.ndarray
    """N x K: lambda^-1 Sigma_i^-1 b on the observed signals (0 elsewhere)."""
    long_run: np.ndarray
    """N x K: lambda_inf^-1 Psi_i^-1 b on the observable signals (0 elsewhere)."""
    prior_weight: np.ndarray
    long_run_variance: np.ndarray


def _masked_solve(system: np.ndarray, loading: np.ndarray, used: np.ndarray) -> np.ndarray:
    """system_i^-1 b restricted to each row's `used` signals (0 on the others)."""
    k = used.shape[1]
    both = used[:, :, None] & used[:, None, :]
    unused = np.eye(k, dtype=bool)[None] & ~used[:, :, None]
    matrix = np.where(both, system, unused.astype(np.float64))
    diagonal = np.arange(k)
    matrix[:, diagonal, diagonal] *= 1.0 + RIDGE
    rhs = np.where(used, loading[None, :], 0.0)
    return np.linalg.solve(matrix, rhs[:, :, None])[:, :, 0]


def estimator_maps(
    factor: FactorParameters, evidence: Evidence, prior_mean: np.ndarray, prior_variance: float
) -> EstimatorMaps:
    """The linear maps of E[q | y] and of L for every generation (see `EstimatorMaps`)."""
    total, k = evidence.observed.shape
    current, long_run = np.zeros((total, k)), np.zeros((total, k))
    precision, long_precision = np.zeros(total), np.zeros(total)
    prior_mean = np.broadcast_to(np.asarray(prior_mean, dtype=np.float64), (total,))

    noise_free = _noise_free(evidence)

    def solve_part(part: slice) -> None:
        rows = _first_rows(evidence, part, noise_free)
        _, _, last = _batch(factor, rows, prior_mean[part], prior_variance)
        scale = 1.0 / np.sqrt(last.weight)
        psi = factor.persistent[None] * (scale[:, :, None] * scale[:, None, :])
        sd = last.noise_sd
        noise = factor.noise_correlation[None] * (sd[:, :, None] * sd[:, None, :])
        solved = _masked_solve(psi + noise, factor.loading, rows.used)
        long_solved = _masked_solve(psi, factor.loading, evidence.observable[part])
        precision[part] = solved @ factor.loading + 1.0 / prior_variance
        long_precision[part] = long_solved @ factor.loading + 1.0 / prior_variance
        current[part] = solved / precision[part, None]
        long_run[part] = long_solved / long_precision[part, None]

    _each_chunk(total, solve_part)
    return EstimatorMaps(
        current=current,
        long_run=long_run,
        prior_weight=(1.0 / precision - 1.0 / long_precision) / prior_variance,
        long_run_variance=np.clip(1.0 / precision - 1.0 / long_precision, 0.0, None),
    )


def persistent_means(
    covariance: np.ndarray, noise_correlation: np.ndarray, evidence: Evidence, rows: np.ndarray
) -> np.ndarray:
    """E[mu | y] of the generations `rows` (len(rows) x K): their long-run residual rates mu ~ N(0,
    `covariance`) seen through the sampling noise, C[:, o] (C_oo + S R S)^-1 r_o on the observed o
    (one C for all: neither the t weights nor Psi's factors are read here)."""
    used = evidence.observed[rows]
    residual = evidence.residual[rows]
    sd = np.sqrt(np.clip(evidence.noise_variance[rows], 0.0, None))
    means = np.zeros(used.shape)
    for signals, members in _patterns(used):
        pick = np.ix_(members, signals)
        spread = sd[pick]
        system = spread[:, :, None] * noise_correlation[np.ix_(signals, signals)][None]
        system *= spread[:, None, :]
        system += covariance[np.ix_(signals, signals)][None]
        diagonal = np.arange(signals.size)
        system[:, diagonal, diagonal] *= 1.0 + RIDGE
        solved = np.linalg.solve(system, residual[pick][:, :, None])[:, :, 0]
        means[members] = solved @ covariance[signals, :]
    return means
