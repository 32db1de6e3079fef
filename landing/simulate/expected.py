"""Each generation's long-run (expected) rate of every signal under the simulator's own model, on the
scale the label measures it: what its rates converge to with unlimited exposure.

- view: P(view | a feed impression at the top, where examination is 1): the position-corrected
  attractiveness sigmoid(logit_view);
- completion: E[min(watch_ms / duration_ms, cap)] / cap per view, from the Beta-drawn watched fraction,
  finishing at `completion_threshold` and the geometric loops after it (exact, except that the
  simulator rounds watch time to whole milliseconds: < 0.5 ms per view);
- long_view: P(the view reaches the end or `long_view_ms`) (exact, rounding included);
- an action (like, favorite, share, comment, download, dislike, report): P(action | view); for like,
  net of the unlikes that cancel it;
- select / regenerate: P(the creator selects / regenerates it | its one studio impression), from the
  softmax (Gumbel-max) choice among its siblings; null when its request skipped the studio.

Bots, self-engagement and delivery noise are not part of the rates: they are what a label removes.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
from scipy.special import betainc

from landing.simulate.config import SimulationConfig
from landing.simulate.draws import sigmoid
from landing.simulate.signals import logit_column

RATE_PREFIX = "rate_"
"""Truth columns of the expected rates are `rate_<signal>`."""

MAX_STUDIO_CANDIDATES = 16
"""Inclusion-exclusion over siblings costs 2^K terms per candidate: bounded here."""


def mean_watched_fraction(config: SimulationConfig, completion_logit: np.ndarray) -> np.ndarray:
    """The mean of the Beta-drawn watched fraction of a view (clipped as the simulator clips it)."""
    return np.clip(sigmoid(completion_logit), 1e-3, 1 - 1e-3)


def _beta_cdf(config: SimulationConfig, mean: np.ndarray, x: np.ndarray | float) -> np.ndarray:
    """P(fraction < x) for the watched fraction's Beta(mean k, (1 - mean) k)."""
    k = config.completion_concentration
    return betainc(mean * k, (1 - mean) * k, np.clip(x, 0.0, 1.0))


def _finished_capped(config: SimulationConfig, mean: np.ndarray, cap: float) -> np.ndarray:
    """E[min(1 + loops, cap)] for a finished view: L = 0, 1, ... extra loops with P(L = l) =
    (1 - r) r^l, r = clip(loop_share * mean, 0, 0.95); a view with L >= 1 plays 1 + L + U, U ~ U(0, 1)."""
    if cap <= 1.0:
        return np.full(mean.shape, cap)
    r = np.clip(config.loop_share * mean, 0.0, 0.95)
    total = 1.0 - r  # L = 0: played exactly once
    last = math.ceil(cap)
    for loops in range(1, last + 1):
        reach = cap - 1.0 - loops  # how far into the partial loop the cap falls
        if reach <= 0:
            value = cap
        elif reach >= 1:
            value = 1.5 + loops
        else:
            value = (1.0 + loops) * reach + reach * reach / 2 + (1.0 - reach) * cap
        total = total + (1.0 - r) * r**loops * value
    return total + r ** (last + 1) * cap


def expected_completion(
    config: SimulationConfig, completion_logit: np.ndarray, cap: float
) -> np.ndarray:
    """E[min(watch ratio, cap)] / cap per view."""
    mean = mean_watched_fraction(config, completion_logit)
    k = config.completion_concentration
    threshold = config.completion_threshold
    below = min(threshold, cap)
    # E[X; X < below] = mean * I_below(a + 1, b) for X ~ Beta(a, b)
    unfinished = mean * betainc(mean * k + 1, (1 - mean) * k, min(below, 1.0))
    capped_unfinished = cap * np.clip(
        _beta_cdf(config, mean, threshold) - _beta_cdf(config, mean, below), 0.0, 1.0
    )
    finished = 1.0 - _beta_cdf(config, mean, threshold)
    capped = unfinished + capped_unfinished + finished * _finished_capped(config, mean, cap)
    return capped / cap


def expected_long_view(
    config: SimulationConfig,
    completion_logit: np.ndarray,
    duration_ms: np.ndarray,
    long_view_ms: float,
) -> np.ndarray:
    """P(watch_ms >= duration_ms or watch_ms >= long_view_ms | view), with watch_ms rounded as drawn."""
    mean = mean_watched_fraction(config, completion_logit)
    duration = duration_ms.astype(np.float64)
    # round(x * d) >= m  <=>  x >= (m - 0.5) / d; a finished view (x >= threshold) reaches the end
    reach = np.minimum((long_view_ms - 0.5) / duration, (duration - 0.5) / duration)
    finished = 1.0 - _beta_cdf(config, mean, config.completion_threshold)
    long_unfinished = np.clip(
        _beta_cdf(config, mean, config.completion_threshold) - _beta_cdf(config, mean, reach),
        0.0,
        1.0,
    )
    return np.where(reach <= 0, 1.0, finished + long_unfinished)


def _argmax_argmin_probabilities(location: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of Gumbel locations (n x K): P(each entry's key is the largest) (the softmax) and
    P(it is the smallest), the latter exactly by inclusion-exclusion over the other entries:
    P(j smallest) = sum over subsets S of the others of (-1)^|S| w_j / (w_j + sum_S w)."""
    shifted = np.maximum(location - location.max(axis=1, keepdims=True), -700.0)
    w = np.exp(shifted)
    n, k = w.shape
    masks = np.arange(2**k)
    member = ((masks[:, None] >> np.arange(k)[None, :]) & 1).astype(bool)
    sums = w @ member.T.astype(np.float64)
    sign = np.where(member.sum(axis=1) % 2 == 0, 1.0, -1.0)
    smallest = np.empty_like(w)
    for j in range(k):
        others = ~member[:, j]
        wj = w[:, j : j + 1]
        smallest[:, j] = (sign[others] * wj / (wj + sums[:, others])).sum(axis=1)
    return w / w.sum(axis=1, keepdims=True), np.clip(smallest, 0.0, 1.0)


def expected_studio(config: SimulationConfig, generations: pl.DataFrame) -> pl.DataFrame:
    """rate_select, rate_regenerate per generation (row order kept; null outside the studio)."""
    req = generations.get_column("req").to_numpy()
    index = generations.get_column("candidate_index").to_numpy()
    quality = generations.get_column("true_quality").to_numpy()
    size = np.bincount(req)
    if size.size and size.max() > MAX_STUDIO_CANDIDATES:
        raise ValueError(f"expected studio rates need <= {MAX_STUDIO_CANDIDATES} candidates")
    best, worst = np.zeros(req.size), np.zeros(req.size)
    for k in np.unique(size[size > 0]):
        requests = np.flatnonzero(size == k)
        rank = np.full(size.size, -1)
        rank[requests] = np.arange(requests.size)
        rows = np.flatnonzero(size[req] == k)
        location = np.zeros((requests.size, k))
        location[rank[req[rows]], index[rows]] = quality[rows] / config.select_temperature
        p_best, p_worst = _argmax_argmin_probabilities(location)
        best[rows] = p_best[rank[req[rows]], index[rows]]
        worst[rows] = p_worst[rank[req[rows]], index[rows]]
    max_quality = np.zeros(size.size)
    np.maximum.at(max_quality, req, quality)
    all_poor = (max_quality < config.poor_threshold)[req]
    select_any = np.where(all_poor, config.poor_select_share, 1 - config.select_none_share)
    regenerate = np.where(all_poor, config.regenerate_prob, config.regenerate_anyway_prob)
    in_studio = generations.get_column("in_studio").to_numpy()
    return pl.DataFrame(
        {
            f"{RATE_PREFIX}select": np.where(in_studio, select_any * best, np.nan),
            f"{RATE_PREFIX}regenerate": np.where(in_studio, regenerate * worst, np.nan),
        }
    ).fill_nan(None)


def expected_rates(config: SimulationConfig, generations: pl.DataFrame) -> pl.DataFrame:
    """`rate_<signal>` per generation (rows as in `generations`, which carries the signal logits):
    view, completion, long_view, each action, select and regenerate."""
    completion_logit = generations.get_column(logit_column("completion")).to_numpy()
    rates = {
        "view": sigmoid(generations.get_column(logit_column("view")).to_numpy()),
        "completion": expected_completion(config, completion_logit, config.truth_watch_ratio_cap),
        "long_view": expected_long_view(
            config,
            completion_logit,
            generations.get_column("duration_ms").to_numpy(),
            config.truth_long_view_ms,
        ),
    }
    for action in config.actions:
        p = sigmoid(generations.get_column(logit_column(action.event_type)).to_numpy())
        rates[action.event_type] = (
            p * (1 - config.unlike_share) if action.event_type == "like" else p
        )
    frame = pl.DataFrame({f"{RATE_PREFIX}{name}": value for name, value in rates.items()})
    return pl.concat([frame, expected_studio(config, generations)], how="horizontal")
