"""The one-factor structure of the signals, estimated in closed form from two viewer halves.

For generation i and signal k, the rate observed on viewer half h is

    y_ik^h = a_ik + b_k q_i + e_ik + noise_ik^h

q_i the latent quality (unit variance), e_i a persistent signal-specific part with covariance Psi,
noise^h sampling noise, independent between halves. So the cross-half covariance of the rates is
C = b b' + Psi, free of sampling noise; half differences y^A - y^B hold noise only. From them:

- loadings b: a one-factor fit of C's off-diagonal entries, each weighted by its precision, with pairs
  of signals whose residual covariance the factor cannot explain (local dependence: a signal counted
  twice, a nuisance shared by two signals) left out of the fit one at a time;
- Psi = C - b b' on the diagonal, raised by a margin of C's standard errors (a variance the data do
  not pin down is taken at its upper end) and floored (no signal is exact, and none whose
  precision-weighted variance is far below its variance over all generations is read off the
  well-shown ones alone), plus the residual covariances that are clearly not 0, made positive
  semi-definite, so two copies of a signal weigh as one;
- the sampling noise: each signal's dispersion (1 = binomial) and the correlation of the noise of
  different signals within a half (a viewer who likes often also favorites).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.label_config import LabelConfig

EIGEN_FLOOR: float = 1e-6
"""Eigenvalues of correlation-scale matrices are kept at least this (a duplicated signal stays solvable)."""


@dataclass(frozen=True)
class HalfResiduals:
    """Residual rates y - a of each viewer half (0 where unobserved) and their precision weights (0 there)."""

    residual_a: np.ndarray
    residual_b: np.ndarray
    weight_a: np.ndarray
    weight_b: np.ndarray


def cross_half_covariance(halves: HalfResiduals) -> tuple[np.ndarray, np.ndarray]:
    """(C, se): the symmetrised weighted covariance of half-A and half-B rates, and its standard errors.

    For signals k, l each generation observed in both weighs w_ik^A w_il^B; the product weights
    factorise, so every weighted sum is one matrix product. Each pair is centred at its own weighted
    means (the intercepts fit a different weighting: their offset must not pass for covariance).
    Off the diagonal C averages two estimates (A of k with B of l, and the reverse), so its standard
    error is half the root of their variances' sum; on the diagonal there is one estimate.
    """
    wa, wb = halves.weight_a, halves.weight_b
    x, y = wa * halves.residual_a, wb * halves.residual_b
    total = wa.T @ wb
    safe = np.where(total > 0, total, 1.0)
    mean_a, mean_b = (x.T @ wb) / safe, (wa.T @ y) / safe
    c_ab = np.where(total > 0, (x.T @ y) / safe - mean_a * mean_b, 0.0)
    # Var of the weighted mean of p_i = (r_a - m_a)(r_b - m_b): sum w^2 (p - C)^2 / (sum w)^2, expanded
    squares = (x * x).T @ (y * y)
    cross = (wa * x).T @ (wb * y)
    weights = (wa * wa).T @ (wb * wb)
    variance = np.where(
        total > 0,
        (squares - 2.0 * (c_ab + mean_a * mean_b) * cross + (c_ab + mean_a * mean_b) ** 2 * weights)
        / safe**2,
        np.inf,
    )
    covariance = 0.5 * (c_ab + c_ab.T)
    se = 0.5 * np.sqrt(np.clip(variance, 0.0, None) + np.clip(variance.T, 0.0, None))
    np.fill_diagonal(se, np.sqrt(np.clip(np.diag(variance), 0.0, None)))
    return covariance, np.where(np.isfinite(se), se, np.inf)


def _als(
    correlation: np.ndarray,
    weight: np.ndarray,
    start: np.ndarray,
    cap: float,
    config: LabelConfig,
) -> np.ndarray:
    """Loadings l minimising sum_{k != l} weight_kl (rho_kl - l_k l_l)^2 with |l_k| <= cap
    (alternating least squares, from `start`)."""
    loading = start.copy()
    for _ in range(config.factor_iterations):
        previous = loading.copy()
        for k in range(loading.size):
            denominator = float(np.sum(weight[k] * loading * loading))
            if denominator <= 0.0:
                loading[k] = 0.0
                continue
            value = float(np.sum(weight[k] * correlation[k] * loading)) / denominator
            loading[k] = float(np.clip(value, -cap, cap))
        if np.max(np.abs(loading - previous)) <= config.factor_tolerance:
            break
    return loading


def _few_signal_loadings(
    correlation: np.ndarray, active: np.ndarray, orientation: np.ndarray, cap: float
) -> np.ndarray:
    """Loadings when fewer than three signals carry persistent variance (one factor is not identified
    by the off-diagonal entries): one signal is all quality; two share the quality equally."""
    loading = np.zeros(correlation.shape[0])
    index = np.flatnonzero(active)
    if index.size == 1:
        loading[index[0]] = orientation[index[0]] * cap
    elif index.size == 2:
        first, second = index
        size = min(float(np.sqrt(abs(correlation[first, second]))), cap)
        loading[first] = orientation[first] * size
        loading[second] = np.sign(correlation[first, second] * loading[first]) * size
    return loading


@dataclass(frozen=True)
class Loadings:
    """The fitted loadings and what the fit left out."""

    loading: np.ndarray
    active: np.ndarray
    """Signals with persistent variance clearly above 0 (the others get no loading)."""
    freed: tuple[tuple[int, int], ...]
    """Pairs left out of the fit as locally dependent (their covariance is not quality's)."""


def fit_loadings(
    covariance: np.ndarray,
    se: np.ndarray,
    orientation: np.ndarray,
    config: LabelConfig,
    dependent: tuple[tuple[int, int], ...] = (),
) -> Loadings:
    """One-factor loadings of the cross-half covariance (see the module docstring).

    The fit runs on the correlation scale, each pair weighed by its precision. `dependent` pairs (read
    from the same events) are left out from the start; pairs whose residual is significant and large
    are freed one at a time (the largest first), as long as both signals keep two partners.
    """
    variance = np.diag(covariance)
    active = variance > config.loading_min_t * np.diag(se)
    sd = np.sqrt(np.where(active, variance, 1.0))
    correlation = covariance / np.outer(sd, sd)
    se_correlation = se / np.outer(sd, sd)
    cap = float(np.sqrt(config.max_quality_share))
    if active.sum() < 3:
        loading = _few_signal_loadings(correlation, active, orientation, cap)
        return Loadings(loading * sd, active, ())
    pairs = np.outer(active, active) & np.isfinite(se_correlation)
    np.fill_diagonal(pairs, False)
    weight = np.where(pairs, 1.0 / np.where(pairs, se_correlation, 1.0) ** 2, 0.0)
    freed: list[tuple[int, int]] = []
    for first, second in dependent:
        if weight[first, second] > 0:
            weight[first, second] = weight[second, first] = 0.0
            freed.append((min(first, second), max(first, second)))
    loading = _als(correlation, weight, np.where(active, orientation * 0.5, 0.0), cap, config)
    for _ in range(config.max_freed_pairs):
        residual = np.where(weight > 0, correlation - np.outer(loading, loading), 0.0)
        partners = (weight > 0).sum(axis=1)
        candidates = (
            (np.abs(residual) > config.local_dependence_correlation)
            & (np.abs(residual) > config.local_dependence_t * se_correlation)
            & (partners[:, None] > 2)
            & (partners[None, :] > 2)
            & (weight > 0)
        )
        if not candidates.any():
            break
        first, second = np.unravel_index(
            int(np.argmax(np.where(candidates, np.abs(residual), -1.0))), weight.shape
        )
        weight[first, second] = weight[second, first] = 0.0
        freed.append((int(min(first, second)), int(max(first, second))))
        loading = _als(correlation, weight, loading, cap, config)
    if np.sum(orientation * loading) < 0:
        loading = -loading
    return Loadings(np.where(active, loading * sd, 0.0), active, tuple(sorted(freed)))


def nearest_psd(matrix: np.ndarray, scale: np.ndarray, floor: float = EIGEN_FLOOR) -> np.ndarray:
    """`matrix` made positive definite on the scale `scale` (its eigenvalues there kept >= `floor`)."""
    inverse = 1.0 / scale
    standardised = matrix * np.outer(inverse, inverse)
    values, vectors = np.linalg.eigh(0.5 * (standardised + standardised.T))
    fixed = (vectors * np.clip(values, floor, None)) @ vectors.T
    return fixed * np.outer(scale, scale)


def population_floor(floor: np.ndarray, population: np.ndarray, loading: np.ndarray) -> np.ndarray:
    """Each signal's least Psi_kk: `floor`, and its `population` variance (its rate's spread over all
    generations, see features.label_beta_binomial; 0 where unknown) less b_k^2. A rare rate spreads
    most among the little-shown generations the precision weights discount: read off the well-shown
    ones, the signal would look nearly exact and get a long-run weight no generation's data support."""
    return np.maximum(floor, population - loading**2)


def persistent_covariance(
    covariance: np.ndarray, se: np.ndarray, fitted: Loadings, floor: np.ndarray, config: LabelConfig
) -> np.ndarray:
    """Psi: the non-quality persistent covariance of the signals.

    Diagonal: C_kk - b_k^2 plus `persistent_se_margin` standard errors of C_kk (an upper end: a
    variance the data do not pin down is not taken as small, or the long-run label would lean on the
    signal as if it were exact; a signal with no standard error, shown in both halves by no
    generation, gets no margin), at least (1 - max_quality_share) C_kk and `floor` (per signal: a
    share of its median sampling variance, and its `population_floor`); off the diagonal, among
    signals with persistent variance, the residual covariances of freed pairs and those clearly not 0
    (local dependence), the rest 0; on the correlation scale no direction keeps less than
    `residual_eigen_floor` of variance (two near-copies must not make their small difference look
    exact).
    """
    b = fitted.loading
    variance = np.diag(covariance)
    spread = np.diag(se)
    margin = config.persistent_se_margin * np.where(np.isfinite(spread), spread, 0.0)
    diagonal = np.maximum.reduce(
        [variance - b**2 + margin, (1.0 - config.max_quality_share) * variance, floor]
    )
    residual = covariance - np.outer(b, b)
    freed = np.zeros(covariance.shape, dtype=bool)
    for first, second in fitted.freed:
        freed[first, second] = freed[second, first] = True
    keep = np.outer(fitted.active, fitted.active) & (
        (np.abs(residual) > config.local_dependence_t * se) | freed
    )
    psi = np.where(keep, residual, 0.0)
    np.fill_diagonal(psi, diagonal)
    return nearest_psd(psi, np.sqrt(diagonal), config.residual_eigen_floor)


def noise_structure(
    difference: np.ndarray,
    variance_sum: np.ndarray,
    both: np.ndarray,
    reliability: np.ndarray,
    config: LabelConfig,
) -> tuple[np.ndarray, np.ndarray]:
    """(dispersion, correlation) of the sampling noise from half differences y^A - y^B.

    `variance_sum` holds the binomial-model variance of each difference (V^A + V^B at unit
    dispersion), `both` where the signal was observed in both halves. Dispersion = sum d^2 / sum V
    (bounded); the correlation of signals k, l is that of the standardised differences over the
    generations where both were observed in both halves.
    """
    k = difference.shape[1]
    low, high = config.dispersion_bounds
    enough = both.sum(axis=0) >= config.min_signal_generations
    ratios = np.where(both, difference**2 / np.where(both, variance_sum, 1.0), 0.0)
    weight = np.where(both, reliability, 0.0)
    total = weight.sum(axis=0)
    ratio = np.divide((weight * ratios).sum(axis=0), total, out=np.ones(k), where=total > 0)
    dispersion = np.where(enough, np.clip(ratio, low, high), 1.0)
    z = np.where(both, difference / np.sqrt(np.where(both, variance_sum, 1.0) * dispersion), 0.0)
    mask = both.astype(np.float64)
    products = z.T @ z
    shared = mask.T @ mask
    norms = (z * z).T @ mask
    denominator = np.sqrt(norms * norms.T)
    correlation = np.divide(
        products,
        denominator,
        out=np.zeros((k, k)),
        where=(denominator > 0) & (shared >= config.min_signal_generations),
    )
    np.fill_diagonal(correlation, 1.0)
    fixed = nearest_psd(np.clip(correlation, -1.0, 1.0), np.ones(k))
    scale = 1.0 / np.sqrt(np.diag(fixed))
    return dispersion, fixed * np.outer(scale, scale)
