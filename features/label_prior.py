"""The prior of quality: its mean by model_version and by exposure, and the variance left within.

Exposure (feed impressions) is a covariate because a feed shows better generations more: a sparse
generation is shrunk toward the quality of generations shown as little as it was, not toward the
average of well-shown ones. Every effect is fitted by generalised least squares on each generation's
prior-free evidence (u_i = b' Sigma_i^-1 r_i, w_i = b' Sigma_i^-1 b, so E[u_i] = w_i m_i and
Var(u_i) = w_i + w_i^2 s^2): a well-shown generation counts about once, not by its exposure, so the
prior is the mean quality of its group, and intervals stay calibrated at every exposure.
"""

from __future__ import annotations

import numpy as np

GLS_ITERATIONS: int = 20
"""Rounds of the (effects, within variance) fixed point."""
GLS_TOLERANCE: float = 1e-12
"""The fixed point stops once the within variance moves by less than this share (the effects are a
function of it)."""
RIDGE: float = 1e-9
"""Relative ridge on the group effects: a group without evidence keeps effect 0."""


def group_columns(group: np.ndarray, groups: int, usable: np.ndarray) -> np.ndarray:
    """One-hot columns of the usable groups (a generation in no usable group has none set)."""
    columns = np.zeros((group.size, int(usable.sum())))
    if groups == 0:
        return columns
    index = np.full(groups, -1)
    index[usable] = np.arange(int(usable.sum()))
    inside = group >= 0
    mapped = np.where(inside, index[np.clip(group, 0, None)], -1)
    rows = np.flatnonzero(mapped >= 0)
    columns[rows, mapped[rows]] = 1.0
    return columns


def gls_effects(
    weighted: np.ndarray, info: np.ndarray, design: np.ndarray, bounds: tuple[float, float]
) -> tuple[np.ndarray, float]:
    """(effects gamma, within variance s^2) of E[u_i] = w_i x_i' gamma, Var(u_i) = w_i (1 + w_i s^2).

    `design`'s first column is the intercept (not penalised); the rest carry a tiny ridge, so an
    effect without evidence stays 0. s^2 is the moment estimate of what the effects leave.
    """
    variance = 1.0
    effects = np.zeros(design.shape[1])
    if not np.any(info > 0):
        return effects, float(np.clip(1.0, *bounds))
    penalty = np.ones(design.shape[1])
    penalty[0] = 0.0
    for _ in range(GLS_ITERATIONS):
        previous = variance
        c = 1.0 / (1.0 + info * variance)
        gram = (design * (c * info)[:, None]).T @ design
        target = design.T @ (c * weighted)
        ridge = RIDGE * max(float(np.max(np.diag(gram))), 1e-300)
        effects = np.linalg.solve(gram + np.diag(ridge * penalty + 1e-300), target)
        centre = design @ effects
        c2 = c * c
        excess = float(np.sum(c2 * ((weighted - info * centre) ** 2 - info)))
        scale = float(np.sum(c2 * info**2))
        variance = float(np.clip(excess / scale if scale > 0 else bounds[1], *bounds))
        if abs(variance - previous) <= GLS_TOLERANCE * variance:
            break
    return effects, variance
