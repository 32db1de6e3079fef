"""Robust examination propensities: each slot's raw estimate shrunk toward a smooth monotone shape.

A feed slot's log propensity z_s (from the rank-one fit, with sampling variance v_s ~ 1 / views) is
pulled toward a smooth shape (a polynomial in log(1 + position), fitted by weighted least squares with
weights 1 / (v_s + sigma^2), sigma^2 the between-slot variance around it by moments) by
sigma^2 / (sigma^2 + v_s), then made non-increasing in position (weighted isotonic regression). A slot
with a handful of impressions therefore stays on the curve, a well-shown one keeps its own value, and no
sparse slot can swing it. Slots off the feed (and the feed without a position) shrink toward the feed's
impression-weighted mean the same way, with the feed's own spread around that mean as the prior spread:
how far a feed slot strays from the feed's smooth shape says nothing of how far another surface sits
from the feed's average (a profile page is examined far more than the average slot of a feed that
falls steeply), and a slot's own distance cannot widen its prior (a lone thin one stays near the
average). Without enough feed slots for a shape, the slots share a spread by precision-weighted moments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

INITIAL_BETWEEN_VARIANCE: float = 0.01
"""sigma^2 the moment iterations start from (and keep when there are too few feed slots to fit a shape)."""
MIN_BETWEEN_VARIANCE: float = 1e-6
CONTINUITY: float = 0.5
"""Added to a slot's views and expected views, so a slot without views has a finite log propensity."""


@dataclass(frozen=True)
class SlotEstimates:
    """Per slot: whether it is a feed position, its position, impressions, views and raw log propensity."""

    on_feed: np.ndarray
    position: np.ndarray
    impressions: np.ndarray
    views: np.ndarray
    log_raw: np.ndarray


def raw_log_propensity(views: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """log(views / expected views at examination 1), continuity-corrected."""
    return np.log((views + CONTINUITY) / (expected + CONTINUITY))


def decreasing_fit(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted isotonic regression of `values` (in order) under a non-increasing constraint (PAVA)."""
    means: list[float] = []
    totals: list[float] = []
    sizes: list[int] = []
    for value, weight in zip(values.tolist(), weights.tolist(), strict=True):
        means.append(value)
        totals.append(weight)
        sizes.append(1)
        while len(means) > 1 and means[-2] < means[-1]:
            weight_sum = totals[-2] + totals[-1]
            merged = (means[-2] * totals[-2] + means[-1] * totals[-1]) / weight_sum
            size = sizes[-2] + sizes[-1]
            del means[-1], totals[-1], sizes[-1]
            means[-1], totals[-1], sizes[-1] = merged, weight_sum, size
    return np.repeat(np.array(means), sizes)


def _smooth_shape(
    z: np.ndarray, variance: np.ndarray, position: np.ndarray, degree: int, passes: int
) -> tuple[np.ndarray, float]:
    """(the weighted polynomial fit in log(1 + position), the between-slot variance sigma^2)."""
    t = np.log1p(position.astype(np.float64))
    basis = np.column_stack([t**d for d in range(degree + 1)])
    between = INITIAL_BETWEEN_VARIANCE
    fit = np.zeros_like(z)
    for _ in range(passes):
        root = np.sqrt(1.0 / (variance + between))
        coefficients = np.linalg.lstsq(basis * root[:, None], z * root, rcond=None)[0]
        fit = basis @ coefficients
        weight = root**2
        freedom = max(z.size - basis.shape[1], 1)
        excess = float(np.sum(weight * ((z - fit) ** 2 - variance)) / np.sum(weight))
        between = max(excess * z.size / freedom, MIN_BETWEEN_VARIANCE)
    return fit, between


def shrunk_log_propensity(slots: SlotEstimates, degree: int, passes: int) -> np.ndarray:
    """Each slot's log propensity shrunk toward the smooth monotone feed shape (module docstring)."""
    z = slots.log_raw
    variance = 1.0 / (slots.views + CONTINUITY) + 1.0 / np.maximum(slots.impressions, 1.0)
    out = z.copy()
    feed = slots.on_feed & (slots.position >= 0)
    if feed.sum() >= degree + 2:
        fit, between = _smooth_shape(z[feed], variance[feed], slots.position[feed], degree, passes)
        shrink = between / (between + variance[feed])
        shrunk = fit + shrink * (z[feed] - fit)
        order = np.argsort(slots.position[feed], kind="stable")
        monotone = np.empty_like(shrunk)
        monotone[order] = decreasing_fit(shrunk[order], 1.0 / (shrink * variance[feed])[order])
        out[feed] = monotone
        impressions = slots.impressions[feed]
        centre = float(np.sum(impressions * monotone) / max(np.sum(impressions), 1.0))
        spread = float(
            np.sum(impressions * (monotone - centre) ** 2) / max(np.sum(impressions), 1.0)
        )
        spread = max(spread, between, MIN_BETWEEN_VARIANCE)
    else:
        centre = float(np.sum(slots.impressions * z) / max(np.sum(slots.impressions), 1.0))
        spread = between_variance(z - centre, variance)
    rest = ~feed
    out[rest] = centre + spread / (spread + variance[rest]) * (z[rest] - centre)
    return out


def between_variance(deviation: np.ndarray, variance: np.ndarray, passes: int = 5) -> float:
    """The spread of slots' true log propensities around a centre, by precision-weighted moments:
    their weighted mean squared deviation less their sampling variance (at least
    MIN_BETWEEN_VARIANCE), so a thin slot's noise neither inflates nor cancels it."""
    between = INITIAL_BETWEEN_VARIANCE
    for _ in range(passes):
        weight = 1.0 / (variance + between)
        excess = float(np.sum(weight * (deviation**2 - variance)) / np.sum(weight))
        between = max(excess, MIN_BETWEEN_VARIANCE)
    return between
