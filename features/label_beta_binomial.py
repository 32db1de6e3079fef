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
from scipy.optimize import minimize, minimize_scalar
from scipy.special import betaln, digamma, expit, logit

from features.label_signals import DURATION_SIGNALS, SignalCounts

BINOMIAL_SIGNALS: frozenset[str] = frozenset(
    {"long_view", "like", "favorite", "share", "comment", "download", "dislike", "report"}
)
"""Signals whose successes are events among their trials (view counts views per *effective*
impression and completion sums watch ratios: neither is a binomial count)."""
LOG_PRECISION_BOUNDS: tuple[float, float] = (-5.0, 16.0)
"""log(alpha + beta): the upper end is a Beta of variance ~1e-7 p(1 - p), no spread to speak of;
above it the log-likelihood's two beta functions cancel to fewer digits than the fit needs."""
LOGIT_MEAN_BOUNDS: tuple[float, float] = (-30.0, 30.0)
"""logit of the Beta's mean: keeps alpha and beta off 0, where the log-likelihood is inf - inf (a
count with any success has a mean above 1e-13 unless its trials pass 1e13)."""


def _negative_log_likelihood(
    theta: np.ndarray, successes: np.ndarray, failures: np.ndarray, weight: np.ndarray
) -> tuple[float, np.ndarray]:
    """-log L and its gradient in theta = (logit mean, log(alpha + beta)); one row per distinct
    (successes, failures) pair, `weight` the share of the generations holding it."""
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
    Beta (maximum likelihood; generations without trials or with a non-finite count are left out,
    successes clipped to [0, trials]); 0 when nothing or everything succeeded."""
    shown = np.isfinite(successes) & np.isfinite(trials) & (trials > 0)
    n = trials[shown]
    x = np.clip(successes[shown], 0.0, n)
    if n.size < 2 or x.sum() <= 0.0 or x.sum() >= n.sum():
        return 0.0
    pairs, count = np.unique(x + 1j * (n - x), return_counts=True)
    successes_of, failures_of, weight = pairs.real, pairs.imag, count / count.sum()

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        return _negative_log_likelihood(theta, successes_of, failures_of, weight)

    # the likelihood is flat in the precision where the spread is small, and L-BFGS-B's line search
    # fails there: the precision is found first by a bounded scalar search at the pooled mean,
    # then both are refined from that point (kept where the refinement fails to improve it)
    pooled = logit(float(x.sum() / n.sum()))
    profile = minimize_scalar(
        lambda precision: objective(np.array([pooled, precision]))[0],
        bounds=LOG_PRECISION_BOUNDS,
        method="bounded",
        options={"xatol": 1e-4},
    )
    start = np.array([pooled, profile.x])
    at_start = objective(start)[0]
    refined = minimize(
        lambda theta: _shifted(objective(theta), at_start),
        start,
        jac=True,
        method="L-BFGS-B",
        bounds=[LOGIT_MEAN_BOUNDS, LOG_PRECISION_BOUNDS],
        options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 200},
    )
    theta = refined.x if refined.fun < 0.0 else start
    p, precision = expit(theta[0]), np.exp(theta[1])
    return float(p * (1.0 - p) / (1.0 + precision))


def _shifted(value_and_gradient: tuple[float, np.ndarray], by: float) -> tuple[float, np.ndarray]:
    """An objective's value less `by`, its gradient as it is."""
    value, gradient = value_and_gradient
    return value - by, gradient


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
