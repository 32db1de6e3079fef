"""Empirical-Bayes smoothing: Beta priors fitted from the data by maximum marginal likelihood, per segment.

A rate observed as `successes` out of `trials` gets the posterior Beta(alpha + s, beta + t - s):
sparse generations stay near their segment's prior mean, well-observed ones near their own rate.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.optimize import minimize
from scipy.special import betaln, digamma, expit, logit
from threadpoolctl import threadpool_limits

GLOBAL_SEGMENT: str = "*"

PRIOR_SCHEMA: dict[str, pl.DataType] = {
    "signal": pl.String,
    "segment": pl.String,
    "alpha": pl.Float64,
    "beta": pl.Float64,
    "generations": pl.Int64,
}


def fit_beta_prior(
    successes: np.ndarray,
    trials: np.ndarray,
    *,
    min_strength: float,
    max_strength: float,
    max_rows: int | None = None,
    seed: int = 0,
) -> tuple[float, float]:
    """(alpha, beta) of a Beta prior by maximum marginal (beta-binomial) likelihood.

    Maximises sum_i [ln B(alpha + s_i, beta + t_i - s_i) - ln B(alpha, beta)] over the prior mean
    (logit) and strength alpha + beta (log, clipped to [min_strength, max_strength]), starting from
    the method of moments. Rows with no trials carry no information and are ignored; above
    `max_rows` rows a fixed-seed random subset is used (the fit needs thousands, not millions).
    """
    keep = trials > 0
    n = trials[keep].astype(np.float64)
    s = np.clip(successes[keep].astype(np.float64), 0.0, n)
    if max_rows is not None and n.size > max_rows:
        pick = np.random.default_rng(seed).choice(n.size, size=max_rows, replace=False)
        n, s = n[pick], s[pick]
    if n.size == 0:
        return 0.5 * min_strength, 0.5 * min_strength
    s_u, n_u, w = _weighted_unique(s, n)
    total = float(n.sum())
    mean0 = float(np.clip(s.sum() / total, 0.5 / (total + 1.0), 1.0 - 0.5 / (total + 1.0)))
    rates = s / n
    spread = float(np.var(rates))
    noise = mean0 * (1.0 - mean0) * float(np.mean(1.0 / n))
    between = max(spread - noise, 1e-6 * mean0 * (1.0 - mean0))
    strength0 = float(np.clip(mean0 * (1.0 - mean0) / between - 1.0, min_strength, max_strength))
    low, high = np.log(min_strength), np.log(max_strength)

    def negative_log_likelihood(theta: np.ndarray) -> tuple[float, np.ndarray]:
        mean = expit(theta[0])
        strength = np.exp(theta[1])
        a, b = mean * strength, (1.0 - mean) * strength
        value = np.sum(w * betaln(a + s_u, b + n_u - s_u)) - n.size * betaln(a, b)
        common = digamma(a + b) - digamma(a + b + n_u)
        d_a = np.sum(w * (digamma(a + s_u) - digamma(a) + common))
        d_b = np.sum(w * (digamma(b + n_u - s_u) - digamma(b) + common))
        d_mean = (d_a - d_b) * strength * mean * (1.0 - mean)
        d_log_strength = (d_a * mean + d_b * (1.0 - mean)) * strength
        return -float(value), -np.array([d_mean, d_log_strength])

    start = np.array([logit(mean0), np.log(strength0)])
    result = minimize(
        negative_log_likelihood,
        start,
        jac=True,
        method="L-BFGS-B",
        bounds=[(None, None), (low, high)],
    )
    theta = result.x if np.all(np.isfinite(result.x)) else start
    mean, strength = (
        float(expit(theta[0])),
        float(np.clip(np.exp(theta[1]), min_strength, max_strength)),
    )
    return mean * strength, (1.0 - mean) * strength


def _weighted_unique(s: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (successes, trials) rows and their counts: identical integer rows are frequent, so each is evaluated once."""
    if not (np.array_equal(s, np.floor(s)) and np.array_equal(n, np.floor(n))):
        return s, n, np.ones(n.size)
    key = n.astype(np.int64) * (int(n.max()) + 1) + s.astype(np.int64)
    _, first, counts = np.unique(key, return_index=True, return_counts=True)
    return s[first], n[first], counts.astype(np.float64)


def fit_priors(
    signals: pl.DataFrame,
    *,
    min_generations: int,
    min_strength: float,
    max_strength: float,
    max_rows: int | None = None,
) -> pl.DataFrame:
    """Beta priors per (signal, segment) plus a global one per signal (segment '*').

    `signals` is long: generation_id, segment, signal, successes, trials. A segment with fewer than
    `min_generations` generations that have trials gets no prior of its own (the global one applies).
    """
    # L-BFGS-B calls BLAS on 2-vectors: a multi-threaded BLAS next to polars' threads only adds contention
    with threadpool_limits(limits=1, user_api="blas"):
        return _fit_priors(signals, min_generations, min_strength, max_strength, max_rows)


def _fit_priors(
    signals: pl.DataFrame,
    min_generations: int,
    min_strength: float,
    max_strength: float,
    max_rows: int | None,
) -> pl.DataFrame:
    rows: list[dict[str, object]] = []
    observed = signals.select("signal", "segment", "successes", "trials").filter(
        pl.col("trials") > 0
    )
    by_signal = {
        key[0]: frame
        for key, frame in observed.partition_by("signal", as_dict=True, maintain_order=True).items()
    }
    empty = observed.clear()
    for signal in sorted(signals["signal"].unique().to_list()):
        of_signal = by_signal.get(signal, empty)
        alpha, beta = fit_beta_prior(
            of_signal["successes"].to_numpy(),
            of_signal["trials"].to_numpy(),
            min_strength=min_strength,
            max_strength=max_strength,
            max_rows=max_rows,
        )
        rows.append(
            {
                "signal": signal,
                "segment": GLOBAL_SEGMENT,
                "alpha": alpha,
                "beta": beta,
                "generations": of_signal.height,
            }
        )
        segments = of_signal.partition_by("segment", as_dict=True, maintain_order=True)
        for (segment,), group in segments.items():
            if group.height < min_generations:
                continue
            alpha, beta = fit_beta_prior(
                group["successes"].to_numpy(),
                group["trials"].to_numpy(),
                min_strength=min_strength,
                max_strength=max_strength,
                max_rows=max_rows,
            )
            rows.append(
                {
                    "signal": signal,
                    "segment": segment,
                    "alpha": alpha,
                    "beta": beta,
                    "generations": group.height,
                }
            )
    return pl.DataFrame(rows, schema=PRIOR_SCHEMA).sort("signal", "segment")


def prior_moments(priors: pl.DataFrame) -> pl.DataFrame:
    """Adds the prior mean and standard deviation of the rate: mean = a / (a + b), var = mean (1 - mean) / (a + b + 1)."""
    strength = pl.col("alpha") + pl.col("beta")
    mean = pl.col("alpha") / strength
    return priors.with_columns(
        prior_mean=mean, prior_sd=(mean * (1.0 - mean) / (strength + 1.0)).sqrt()
    )


def posterior_moments(signals: pl.DataFrame, priors: pl.DataFrame) -> pl.DataFrame:
    """Adds posterior_mean and posterior_var of each (generation, signal) under its segment's prior (else the global one)."""
    by_segment = priors.select("signal", "segment", seg_alpha="alpha", seg_beta="beta")
    global_prior = priors.filter(pl.col("segment") == GLOBAL_SEGMENT).select(
        "signal", glob_alpha="alpha", glob_beta="beta"
    )
    joined = signals.join(by_segment, on=["signal", "segment"], how="left").join(
        global_prior, on="signal", how="left"
    )
    successes = pl.min_horizontal(pl.col("successes"), pl.col("trials")).clip(lower_bound=0.0)
    alpha = pl.coalesce("seg_alpha", "glob_alpha") + successes
    beta = pl.coalesce("seg_beta", "glob_beta") + pl.col("trials") - successes
    strength = pl.col("post_alpha") + pl.col("post_beta")
    return (
        joined.with_columns(post_alpha=alpha, post_beta=beta)
        .with_columns(
            posterior_mean=pl.col("post_alpha") / strength,
            posterior_var=pl.col("post_alpha")
            * pl.col("post_beta")
            / (strength**2 * (strength + 1.0)),
        )
        .drop("seg_alpha", "seg_beta", "glob_alpha", "glob_beta", "post_alpha", "post_beta")
    )


def priors_moved(old: pl.DataFrame, new: pl.DataFrame, tolerance: float) -> bool:
    """True when a refit changes the set of priors or any prior mean or sd by more than `tolerance` (relative)."""
    keys = ["signal", "segment"]
    if old.is_empty() or set(map(tuple, old.select(keys).rows())) != set(
        map(tuple, new.select(keys).rows())
    ):
        return True
    both = prior_moments(old).join(prior_moments(new), on=keys, suffix="_new")
    relative = pl.max_horizontal(
        (
            (pl.col("prior_mean_new") - pl.col("prior_mean")).abs()
            / pl.col("prior_mean").clip(lower_bound=1e-12)
        ),
        (
            (pl.col("prior_sd_new") - pl.col("prior_sd")).abs()
            / pl.col("prior_sd").clip(lower_bound=1e-12)
        ),
    )
    return bool(both.select(relative.max()).item() > tolerance)
