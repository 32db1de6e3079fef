"""How much a count signal's long-run rate varies between generations, by beta-binomial maximum
likelihood over all of them.

A rare signal (report, dislike) shows a handful of events per generation: its spread among the
generations is carried by which ones show any at all, which moment estimators (products of the two
viewer halves' rates, squared deviations less the binomial noise) read with a skewed error, most
often far too low. The beta-binomial likelihood reads every generation's count, zeros included, as
a draw of Binomial(n, p) with p ~ Beta over the generations; its fitted Beta's variance is the
between-generation variance. Within a generation the events are taken as binomial (the fitted noise
dispersion of these signals is at or below 1).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import betaln, digamma, expit, logit

from features.label_signals import DURATION_SIGNALS, SignalCounts

BINOMIAL_SIGNALS: frozenset[str] = frozenset(
    {"long_view", "like", "favorite", "share", "comment", "download", "dislike", "report"}
)
"""Signals whose successes are events among their trials (view counts views per *effective*
impression and completion sums watch ratios: neither is a binomial count)."""
LOG_PRECISION_BOUNDS: tuple[float, float] = (-5.0, 30.0)
"""log(alpha + beta): the upper end is a Beta of variance ~1e-13 p(1 - p), no spread at all."""


def _negative_log_likelihood(
    theta: np.ndarray, successes: np.ndarray, failures: np.ndarray, weight: np.ndarray
) -> tuple[float, np.ndarray]:
    """-log L and its gradient in theta = (logit mean, log(alpha + beta)); one row per distinct
    (successes, failures) pair, `weight` the generations holding it."""
    mean, precision = expit(theta[0]), np.exp(theta[1])
    alpha, beta = mean * precision, (1.0 - mean) * precision
    total = successes + failures
    likelihood = betaln(successes + alpha, failures + beta) - betaln(alpha, beta)
    shared = digamma(alpha + beta) - digamma(total + alpha + beta)
    d_alpha = digamma(successes + alpha) - digamma(alpha) + shared
    d_beta = digamma(failures + beta) - digamma(beta) + shared
    slope = mean * (1.0 - mean) * precision
    gradient = np.array(
        [
            weight @ (d_alpha - d_beta) * slope,
            weight @ (d_alpha * alpha + d_beta * beta),
        ]
    )
    return -float(weight @ likelihood), -gradient


def between_variance(successes: np.ndarray, trials: np.ndarray) -> float:
    """The variance over generations of the rate p, with successes ~ Binomial(trials, p) and p ~
    Beta (maximum likelihood; generations without trials are left out, successes clipped to
    [0, trials]); 0 when nothing or everything succeeded."""
    shown = trials > 0
    n = trials[shown]
    x = np.clip(successes[shown], 0.0, n)
    if n.size < 2 or x.sum() <= 0.0 or x.sum() >= n.sum():
        return 0.0
    pairs, weight = np.unique(np.column_stack([x, n - x]), axis=0, return_counts=True)
    mean = float(x.sum() / n.sum())
    rates = x / n
    spread = float(np.mean((rates - mean) ** 2) - mean * (1.0 - mean) * np.mean(1.0 / n))
    start_precision = mean * (1.0 - mean) / spread - 1.0 if spread > 0 else np.exp(10.0)
    low, high = LOG_PRECISION_BOUNDS
    start = np.array([logit(mean), np.clip(np.log(max(start_precision, 1e-3)), low, high)])
    fitted = minimize(
        _negative_log_likelihood,
        start,
        args=(pairs[:, 0], pairs[:, 1], weight.astype(np.float64)),
        jac=True,
        method="L-BFGS-B",
        bounds=[(None, None), LOG_PRECISION_BOUNDS],
    )
    p, precision = expit(fitted.x[0]), np.exp(fitted.x[1])
    return float(p * (1.0 - p) / (1.0 + precision))


def population_variances(counts: SignalCounts, bucket: np.ndarray) -> np.ndarray:
    """Per signal of `counts`: its rate's `between_variance` over the generations (a duration signal's
    within each duration `bucket`, averaged over the generations of the buckets: its rate is centred
    per bucket); 0 for a signal that is not a binomial count."""
    variances = np.zeros(len(counts.signals))
    for k, signal in enumerate(counts.signals):
        if signal not in BINOMIAL_SIGNALS:
            continue
        successes, trials = counts.successes[:, k], counts.trials[:, k]
        if signal not in DURATION_SIGNALS:
            variances[k] = between_variance(successes, trials)
            continue
        parts = [bucket == b for b in np.unique(bucket[bucket >= 0])]
        sizes = np.array([float(((trials > 0) & part).sum()) for part in parts])
        if sizes.sum() > 0:
            within = [between_variance(successes[part], trials[part]) for part in parts]
            variances[k] = float(np.dot(within, sizes) / sizes.sum())
    return variances
