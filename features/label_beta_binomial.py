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
LOG_PRECISION_BOUNDS: tuple[float, float] = (-5.0, 16.0)
"""log(alpha + beta): the upper end is a Beta of variance ~1e-7 p(1 - p), no spread to speak of;
above it the log-likelihood's two beta functions cancel to fewer digits than the fit needs."""
LOGIT_MEAN_BOUNDS: tuple[float, float] = (-30.0, 30.0)
"""logit of the Beta's mean: keeps alpha and beta off 0, where the log-likelihood is inf - inf (a
count with any success has a mean above 1e-13 unless its trials pass 1e13)."""
START_LOG_PRECISIONS: tuple[float, ...] = (2.0, 7.0, 12.0)
"""log(alpha + beta) the fit starts from besides the moments' (spread p(1 - p) / 8 to / 1.6e5)."""


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
    pairs, count = np.unique(np.column_stack([x, n - x]), axis=0, return_counts=True)
    weight = count / count.sum()
    best = min((_fitted(start, pairs, weight) for start in _starts(x, n)), key=lambda fit: fit[1])
    p, precision = expit(best[0][0]), np.exp(best[0][1])
    return float(p * (1.0 - p) / (1.0 + precision))


def _fitted(start: np.ndarray, pairs: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, float]:
    """(theta, -log L per generation) of L-BFGS-B from `start`. The objective is taken from its
    value at the start: at -log L ~ 1e6 the relative stopping rule would end the fit unmoved."""
    at_start, _ = _negative_log_likelihood(start, pairs[:, 0], pairs[:, 1], weight)

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        value, gradient = _negative_log_likelihood(theta, pairs[:, 0], pairs[:, 1], weight)
        return value - at_start, gradient

    fitted = minimize(
        objective,
        start,
        jac=True,
        method="L-BFGS-B",
        bounds=[LOGIT_MEAN_BOUNDS, LOG_PRECISION_BOUNDS],
        options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 1000},
    )
    return fitted.x, float(fitted.fun + at_start)


def _starts(successes: np.ndarray, trials: np.ndarray) -> list[np.ndarray]:
    """Where the fit starts (logit mean, log precision): the pooled rate with the moments' precision
    where the moments show spread beyond the binomial's, and with each of `START_LOG_PRECISIONS`
    (the likelihood is flat in the precision where the spread is small, and a single start there
    can end where it began)."""
    mean = float(successes.sum() / trials.sum())
    spread = float(
        np.mean((successes / trials - mean) ** 2) - mean * (1.0 - mean) * np.mean(1.0 / trials)
    )
    low, high = LOG_PRECISION_BOUNDS
    precisions = list(START_LOG_PRECISIONS)
    if spread > 0:
        moments = mean * (1.0 - mean) / spread - 1.0
        precisions.append(float(np.log(np.clip(moments, np.exp(low), np.exp(high)))))
    return [np.array([logit(mean), precision]) for precision in precisions]


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
