"""Empirical-Bayes smoothing: Beta priors fitted from the data by maximum marginal likelihood, per segment.

A rate observed as `successes` out of `trials` gets the posterior Beta(alpha + s, beta + t - s):
sparse generations stay near their segment's prior mean, well-observed ones near their own rate.
Every (signal, segment) prior of a run is fitted at once: projected Newton steps on the
two-parameter beta-binomial likelihood, vectorised across all of them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.optimize import minimize
from scipy.special import betaln, digamma, expit, logit
from threadpoolctl import threadpool_limits

log = logging.getLogger(__name__)

GLOBAL_SEGMENT: str = "*"

PRIOR_SCHEMA: dict[str, pl.DataType] = {
    "signal": pl.String,
    "segment": pl.String,
    "alpha": pl.Float64,
    "beta": pl.Float64,
    "generations": pl.Int64,
}

NEWTON_MAX_STEP: float = 1.0
"""Largest Newton move in (logit mean, log strength) per step: a far start approaches the optimum in safe strides."""
TRIGAMMA_SHIFT: int = 3
"""Recurrence steps before the trigamma series (relative error ~1e-8 at any argument)."""
DEDUP_PROBE: int = 256
"""Non-integer values are deduplicated when at most half of their first this many are distinct."""
WARM_STEP_TOLERANCE: float = 1e-3
"""Newton steps on the every-k-th-row warm start stop below this (its optimum is only a start)."""


@dataclass(frozen=True)
class SegmentedCounts:
    """One signal's counts per generation and each generation's segment (an index into `segments`, -1: none)."""

    signal: str
    successes: np.ndarray
    trials: np.ndarray
    segment: np.ndarray
    segments: tuple[str, ...]


@dataclass(frozen=True)
class _Group:
    """The rows one prior is fitted on (trials > 0, successes clipped to [0, trials], sampled)."""

    successes: np.ndarray
    trials: np.ndarray


def fit_beta_prior(
    successes: np.ndarray,
    trials: np.ndarray,
    *,
    min_strength: float,
    max_strength: float,
    max_rows: int | None = None,
    seed: int = 0,
    newton_steps: int = 40,
    step_tolerance: float = 1e-5,
    warm_rows: int = 512,
) -> tuple[float, float]:
    """(alpha, beta) of a Beta prior by maximum marginal (beta-binomial) likelihood.

    Maximises sum_i [ln B(alpha + s_i, beta + t_i - s_i) - ln B(alpha, beta)] over the prior mean
    (logit) and strength alpha + beta (log, clipped to [min_strength, max_strength]), starting from
    the method of moments. Rows with no trials carry no information and are ignored; above
    `max_rows` rows a fixed-seed random subset is used (the fit needs thousands, not millions).
    """
    fitted = fit_beta_priors(
        [(successes, trials)],
        min_strength=min_strength,
        max_strength=max_strength,
        max_rows=max_rows,
        seed=seed,
        newton_steps=newton_steps,
        step_tolerance=step_tolerance,
        warm_rows=warm_rows,
    )
    return float(fitted[0, 0]), float(fitted[0, 1])


def fit_beta_priors(
    groups: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    min_strength: float,
    max_strength: float,
    max_rows: int | None = None,
    seed: int = 0,
    newton_steps: int = 40,
    step_tolerance: float = 1e-5,
    warm_rows: int = 512,
) -> np.ndarray:
    """(alpha, beta) per (successes, trials) group, as `fit_beta_prior` fits one, all groups at once.

    Projected Newton steps, vectorised across groups, until every step is below `step_tolerance`;
    they start from a fit on every k-th row (about `warm_rows` of them; 0: none), itself started
    at the method of moments, so the full data takes few steps. A group not converged within
    `newton_steps` is fitted by L-BFGS-B from the method of moments instead. When every row has
    exactly one trial the strength is not identified and stays at its start.
    """
    picks: dict[int, np.ndarray] = {}
    prepared = [_prepared(np.asarray(s), np.asarray(n), max_rows, seed, picks) for s, n in groups]
    result = np.full((len(prepared), 2), 0.5 * min_strength)
    fitted = [i for i, group in enumerate(prepared) if group.trials.size > 0]
    if not fitted:
        return result
    bounds = (float(np.log(min_strength)), float(np.log(max_strength)))
    chosen = [prepared[i] for i in fitted]
    starts = np.array([_moment_start(group, min_strength, max_strength) for group in chosen])
    hold = np.array([bool(np.all(group.trials == 1.0)) for group in chosen])
    # no successes (or no failures) at all: the optimum is at the boundary, Newton steps never settle
    skip = np.array([_one_sided(group) for group in chosen])
    begin = starts
    if warm_rows > 0:
        warm = [_every_kth(group, warm_rows) for group in chosen]
        warm_theta, warm_done = _newton_fit(
            warm, starts, hold, skip, bounds, newton_steps, WARM_STEP_TOLERANCE
        )
        begin = np.where(warm_done[:, None], warm_theta, starts)
    theta, done = _newton_fit(chosen, begin, hold, skip, bounds, newton_steps, step_tolerance)
    if not done.all():
        log.info("%d of %d priors fitted by L-BFGS-B, not Newton steps", (~done).sum(), done.size)
    for position in np.flatnonzero(~done):
        theta[position] = _lbfgs_fit(chosen[position], starts[position], bounds)
    mean = expit(theta[:, 0])
    strength = np.clip(np.exp(theta[:, 1]), min_strength, max_strength)
    result[fitted, 0] = mean * strength
    result[fitted, 1] = (1.0 - mean) * strength
    return result


def _prepared(
    successes: np.ndarray,
    trials: np.ndarray,
    max_rows: int | None,
    seed: int,
    picks: dict[int, np.ndarray],
) -> _Group:
    """Rows with trials, successes clipped to [0, trials], a fixed-seed subset above `max_rows`.

    `picks` keeps the subset drawn per row count (the draw depends on nothing else).
    """
    n, s = trials, successes
    keep = n > 0
    if not keep.all():
        n, s = n[keep], s[keep]
    s = np.clip(s, 0, n)
    if max_rows is not None and n.size > max_rows:
        if n.size not in picks:
            picks[n.size] = np.random.default_rng(seed).choice(n.size, size=max_rows, replace=False)
        pick = picks[n.size]
        n, s = n[pick], s[pick]
    return _Group(successes=s, trials=n)


def _one_sided(group: _Group) -> bool:
    """True when the group has no successes or no failures at all."""
    successes = float(group.successes.sum())
    return successes == 0.0 or successes == float(group.trials.sum())


def _every_kth(group: _Group, rows: int) -> _Group:
    """Every k-th row of `group`, k chosen to keep about `rows` of them."""
    step = max(1, group.trials.size // rows)
    return _Group(successes=group.successes[::step], trials=group.trials[::step])


def _moment_start(group: _Group, min_strength: float, max_strength: float) -> tuple[float, float]:
    """(logit mean, log strength) by the method of moments: the pooled rate and the excess spread of rates."""
    s, n = group.successes, group.trials
    total = float(n.sum())
    mean0 = float(np.clip(s.sum() / total, 0.5 / (total + 1.0), 1.0 - 0.5 / (total + 1.0)))
    spread = float(np.var(s / n))
    noise = mean0 * (1.0 - mean0) * float(np.mean(1.0 / n))
    between = max(spread - noise, 1e-6 * mean0 * (1.0 - mean0))
    strength0 = float(np.clip(mean0 * (1.0 - mean0) / between - 1.0, min_strength, max_strength))
    return float(logit(mean0)), float(np.log(strength0))


def _counted(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The positive values and their multiplicities, ties merged where they are frequent.

    Integers always are (counts are small numbers); other values when their first `DEDUP_PROBE`
    already repeat (e.g. views times a pseudo-trials scale); otherwise each value counts once.
    """
    if values.dtype.kind in "iu":
        return _integer_counts(values)
    values = values[values > 0]
    probe = values[:DEDUP_PROBE]
    if probe.size and np.array_equal(probe, np.floor(probe)):
        whole = values == np.floor(values)
        distinct, counts = _integer_counts(values[whole].astype(np.int64))
        rest = values[~whole]
        return np.concatenate([distinct, rest]), np.concatenate([counts, np.ones(rest.size)])
    if 2 * np.unique(probe).size <= probe.size:
        distinct, counts = np.unique(values, return_counts=True)
        return distinct, counts.astype(np.float64)
    return values, np.ones(values.size)


def _integer_counts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct positive integers among `values` (as floats) and how often each occurs."""
    values = values[values > 0]
    if values.size == 0:
        return np.empty(0), np.empty(0)
    if values.max() > 4 * values.size + 1024:
        distinct, counts = np.unique(values, return_counts=True)
        return distinct.astype(np.float64), counts.astype(np.float64)
    counts = np.bincount(values)
    distinct = np.flatnonzero(counts)
    return distinct.astype(np.float64), counts[distinct].astype(np.float64)


@dataclass(frozen=True)
class _Terms:
    """Positive values x of one digamma term of every group, with their multiplicities and group."""

    values: np.ndarray
    weights: np.ndarray | None
    """None when every value counts once (saves a product per value)."""
    group: np.ndarray
    totals: np.ndarray
    """Sum of the weights per group."""

    @classmethod
    def of(cls, arrays: Sequence[np.ndarray]) -> _Terms:
        parts = [_counted(x) for x in arrays]
        group = np.repeat(np.arange(len(parts)), [v.size for v, _ in parts])
        weights = np.concatenate([w for _, w in parts])
        return cls(
            values=np.concatenate([v for v, _ in parts]),
            weights=None if np.all(weights == 1.0) else weights,
            group=group,
            totals=np.bincount(group, weights, minlength=len(parts)),
        )

    def of_groups(self, keep: np.ndarray) -> _Terms:
        """The terms of the groups where `keep` is true."""
        rows = keep[self.group]
        return _Terms(
            values=self.values[rows],
            weights=None if self.weights is None else self.weights[rows],
            group=self.group[rows],
            totals=np.where(keep, self.totals, 0.0),
        )

    def sums(self, shift: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per group: sum w [psi(shift + x) - psi(shift)] and the same with trigamma."""
        at = shift[self.group] + self.values
        first, second = digamma(at), _trigamma(at)
        if self.weights is not None:
            first *= self.weights
            second *= self.weights
        k = shift.size
        return (
            np.bincount(self.group, first, minlength=k) - self.totals * digamma(shift),
            np.bincount(self.group, second, minlength=k) - self.totals * _trigamma(shift),
        )


def _trigamma(x: np.ndarray) -> np.ndarray:
    """psi'(x) for x > 0, to ~1e-8 relative: it only shapes Newton steps, never where they converge.

    psi'(x) = sum_{j < m} 1 / (x + j)^2 + psi'(x + m) with m = TRIGAMMA_SHIFT, the last by its
    asymptotic series (no branches: the recurrence is exact for every x).
    """
    x = np.asarray(x, dtype=np.float64)
    total = 1.0 / (x * x)
    for j in range(1, TRIGAMMA_SHIFT):
        shifted = x + j
        total += 1.0 / (shifted * shifted)
    inv = 1.0 / (x + TRIGAMMA_SHIFT)
    inv2 = inv * inv
    series = -1.0 / 30.0 + inv2 * (1.0 / 42.0 + inv2 * (-1.0 / 30.0))
    return total + inv * (1.0 + inv * (0.5 + inv * (1.0 / 6.0 + inv2 * series)))


def _newton_fit(
    groups: Sequence[_Group],
    starts: np.ndarray,
    hold: np.ndarray,
    skip: np.ndarray,
    bounds: tuple[float, float],
    steps: int,
    tolerance: float,
) -> tuple[np.ndarray, np.ndarray]:
    """theta = (logit mean, log strength) per group by projected Newton ascent, and which groups converged.

    The strength stays at its bound while the gradient pushes beyond it (and throughout where
    `hold`); only the mean moves then. Groups in `skip` stay at their start, unconverged.
    """
    low, high = bounds
    success_terms = _Terms.of([g.successes for g in groups])
    failure_terms = _Terms.of([g.trials - g.successes for g in groups])
    trial_terms = _Terms.of([g.trials for g in groups])
    theta = starts.copy()
    active = ~skip
    converged = np.zeros(len(groups), dtype=bool)
    computed = np.ones(len(groups), dtype=bool)
    for _ in range(steps):
        if not active.any():
            break
        if not np.array_equal(active, computed):
            # settled groups drop out of the sums (their terms are most of the work)
            success_terms, failure_terms, trial_terms = (
                terms.of_groups(active) for terms in (success_terms, failure_terms, trial_terms)
            )
            computed = active.copy()
        mean, rest = expit(theta[:, 0]), expit(-theta[:, 0])
        strength = np.exp(theta[:, 1])
        a, b = mean * strength, rest * strength
        g_s, h_s = success_terms.sums(a)
        g_f, h_f = failure_terms.sums(b)
        g_n, h_n = trial_terms.sums(strength)
        d_a, d_b = g_s - g_n, g_f - g_n
        h_aa, h_bb, h_ab = h_s - h_n, h_f - h_n, -h_n
        u = strength * mean * rest
        g0 = u * (d_a - d_b)
        g1 = a * d_a + b * d_b
        h00 = u * u * (h_aa - 2.0 * h_ab + h_bb) + u * (rest - mean) * (d_a - d_b)
        h01 = u * (a * h_aa + b * h_ab - a * h_ab - b * h_bb) + u * (d_a - d_b)
        h11 = a * a * h_aa + 2.0 * a * b * h_ab + b * b * h_bb + a * d_a + b * d_b
        pinned = hold | ((theta[:, 1] >= high) & (g1 > 0)) | ((theta[:, 1] <= low) & (g1 < 0))
        det = h00 * h11 - h01 * h01
        concave = (h00 < 0) & (pinned | (det > 0))
        with np.errstate(divide="ignore", invalid="ignore"):
            step0 = np.where(pinned, -g0 / h00, -(h11 * g0 - h01 * g1) / det)
            step1 = np.where(pinned, 0.0, -(h00 * g1 - h01 * g0) / det)
            # where the likelihood is not concave, climb: Newton on the mean if it can, a full stride uphill otherwise
            step0 = np.where(
                concave, step0, np.where(h00 < 0, -g0 / h00, np.sign(g0) * NEWTON_MAX_STEP)
            )
            step1 = np.where(concave | pinned, step1, np.sign(g1) * NEWTON_MAX_STEP)
        active &= np.isfinite(step0) & np.isfinite(step1)
        largest = np.maximum(np.abs(step0), np.abs(step1))
        scale = np.minimum(1.0, NEWTON_MAX_STEP / np.where(largest > 0, largest, 1.0))
        moved = np.column_stack(
            (theta[:, 0] + scale * step0, np.clip(theta[:, 1] + scale * step1, low, high))
        )
        change = np.max(np.abs(moved - theta), axis=1)
        theta[active] = moved[active]
        converged |= active & (change < tolerance)
        active &= ~converged
    return theta, converged


def _lbfgs_fit(group: _Group, start: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
    """theta by L-BFGS-B on the weighted distinct rows: the fallback where Newton steps do not settle."""
    s, n = group.successes, group.trials
    s_u, n_u, w = _weighted_unique(s, n)

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

    # L-BFGS-B calls BLAS on 2-vectors: a multi-threaded BLAS next to polars' threads only adds contention
    with threadpool_limits(limits=1, user_api="blas"):
        result = minimize(
            negative_log_likelihood,
            start,
            jac=True,
            method="L-BFGS-B",
            bounds=[(None, None), bounds],
        )
    return result.x if np.all(np.isfinite(result.x)) else np.asarray(start, dtype=np.float64)


def _weighted_unique(s: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (successes, trials) rows and their counts: identical integer rows are frequent, so each is evaluated once."""
    if not (np.array_equal(s, np.floor(s)) and np.array_equal(n, np.floor(n))):
        return s, n, np.ones(n.size)
    key = n.astype(np.int64) * (int(n.max()) + 1) + s.astype(np.int64)
    _, first, counts = np.unique(key, return_index=True, return_counts=True)
    return s[first], n[first], counts.astype(np.float64)


def fit_segmented_priors(
    counts: Sequence[SegmentedCounts],
    *,
    min_generations: int,
    min_strength: float,
    max_strength: float,
    max_rows: int | None = None,
    newton_steps: int = 40,
    step_tolerance: float = 1e-5,
    warm_rows: int = 512,
) -> pl.DataFrame:
    """Beta priors per (signal, segment) plus a global one per signal (segment '*'), all fitted at once.

    A segment with fewer than `min_generations` generations that have trials gets no prior of its
    own (the global one applies).
    """
    keys: list[tuple[str, str, int]] = []
    groups: list[tuple[np.ndarray, np.ndarray]] = []
    for of_signal in counts:
        observed = of_signal.trials > 0
        s, n = of_signal.successes[observed], of_signal.trials[observed]
        keys.append((of_signal.signal, GLOBAL_SEGMENT, int(n.size)))
        groups.append((s, n))
        segment = of_signal.segment[observed]
        # one stable sort by segment makes every segment's rows a slice, in their original order
        small = len(of_signal.segments) < np.iinfo(np.int16).max
        order = np.argsort(segment.astype(np.int16) if small else segment, kind="stable")
        by_segment_s, by_segment_n = s[order], n[order]
        sizes = np.bincount(segment + 1, minlength=len(of_signal.segments) + 1)
        ends = np.cumsum(sizes)
        for code in np.flatnonzero(sizes[1:] >= min_generations):
            rows = slice(int(ends[code]), int(ends[code + 1]))
            keys.append((of_signal.signal, of_signal.segments[code], int(sizes[code + 1])))
            groups.append((by_segment_s[rows], by_segment_n[rows]))
    fitted = fit_beta_priors(
        groups,
        min_strength=min_strength,
        max_strength=max_strength,
        max_rows=max_rows,
        newton_steps=newton_steps,
        step_tolerance=step_tolerance,
        warm_rows=warm_rows,
    )
    return pl.DataFrame(
        {
            "signal": [k[0] for k in keys],
            "segment": [k[1] for k in keys],
            "alpha": fitted[:, 0],
            "beta": fitted[:, 1],
            "generations": [k[2] for k in keys],
        },
        schema=PRIOR_SCHEMA,
    ).sort("signal", "segment")


def fit_priors(
    signals: pl.DataFrame,
    *,
    min_generations: int,
    min_strength: float,
    max_strength: float,
    max_rows: int | None = None,
    newton_steps: int = 40,
    step_tolerance: float = 1e-5,
    warm_rows: int = 512,
) -> pl.DataFrame:
    """Beta priors per (signal, segment) plus a global one per signal (segment '*').

    `signals` is long: generation_id, segment, signal, successes, trials. A segment with fewer than
    `min_generations` generations that have trials gets no prior of its own (the global one applies).
    """
    counts = []
    for signal in sorted(signals["signal"].unique().to_list()):
        of_signal = signals.filter(pl.col("signal") == signal)
        segments = tuple(of_signal["segment"].drop_nulls().unique().sort().to_list())
        code = of_signal.select(
            pl.col("segment")
            .replace_strict(segments, list(range(len(segments))), default=-1)
            .cast(pl.Int64)
        ).to_series()
        counts.append(
            SegmentedCounts(
                signal=signal,
                successes=of_signal["successes"].cast(pl.Float64).to_numpy(),
                trials=of_signal["trials"].cast(pl.Float64).to_numpy(),
                segment=code.to_numpy(),
                segments=segments,
            )
        )
    return fit_segmented_priors(
        counts,
        min_generations=min_generations,
        min_strength=min_strength,
        max_strength=max_strength,
        max_rows=max_rows,
        newton_steps=newton_steps,
        step_tolerance=step_tolerance,
        warm_rows=warm_rows,
    )


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
