"""What `bench/label_worlds.py` measures on one labelled world: Spearman with the truth of the label,
of a cross-validated oracle and of the best naive rate, and the coverage of the label's interval.

The oracle combines the same per-generation signals the label reads (each a smoothed rate beside its
trial count) with weights fitted on the truth, cross-validated by request (siblings never straddle a
fold): a ridge model with rate x reliability interactions and a gradient-boosted model, whichever
ranks better. It is a strong reference: it learns from the truth what the label must find alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.stats import spearmanr
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

SIGNAL_COUNTS: tuple[tuple[str, str, str], ...] = (
    ("view", "views", "effective_impressions"),
    ("completion", "completion_successes", "views"),
    ("long_view", "long_views", "views"),
    ("like", "likes", "views"),
    ("favorite", "favorites", "views"),
    ("share", "shares", "views"),
    ("comment", "comments", "views"),
    ("download", "downloads", "views"),
    ("dislike", "dislikes", "views"),
    ("report", "reports", "views"),
    ("select", "selects", "studio_impressions"),
    ("regenerate", "regenerates", "studio_impressions"),
)
"""(signal, successes column, trials column) per signal: the label's signals, as far as the
engagement state has their counts (long_view once the warehouse counts long views)."""
NEGATIVE_SIGNALS: frozenset[str] = frozenset({"dislike", "report", "regenerate"})
SCOPES: tuple[str, ...] = ("all", ">=30")
MIN_FEED_IMPRESSIONS = 30
EXPOSURE_BUCKETS: tuple[tuple[int, int | None], ...] = (
    (0, 10),
    (10, 30),
    (30, 100),
    (100, 300),
    (300, None),
)
MIN_BUCKET_GENERATIONS = 100
"""A coverage bucket with fewer generations is printed but not held to the bound."""


def with_counts(engagement: pl.DataFrame, ratio_cap: float) -> pl.DataFrame:
    """The engagement state plus completion as successes (capped watch ratios / cap)."""
    return engagement.with_columns(completion_successes=pl.col("ratio_sum") / ratio_cap)


def present_signals(engagement: pl.DataFrame) -> list[tuple[str, str, str]]:
    """The signals whose counts the engagement state holds and that happened at all."""
    return [
        (name, successes, trials)
        for name, successes, trials in SIGNAL_COUNTS
        if successes in engagement.columns and float(engagement[trials].sum()) > 0
    ]


def spearman(score: np.ndarray, truth: np.ndarray) -> float:
    """Spearman rank correlation (nan when either side is constant or there are < 3 rows)."""
    if score.size < 3 or np.all(score == score[0]):
        return float("nan")
    return float(spearmanr(score, truth).statistic)


def by_scope(score: np.ndarray, truth: np.ndarray, well_shown: np.ndarray) -> dict[str, float]:
    """Spearman over every generation and over those with >= 30 feed impressions."""
    return {
        "all": spearman(score, truth),
        ">=30": spearman(score[well_shown], truth[well_shown]),
    }


def _pooled_rate(successes: np.ndarray, trials: np.ndarray) -> float:
    return float(successes.sum() / max(trials.sum(), 1e-12))


def _smoothed(successes: np.ndarray, trials: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A Beta-smoothed rate (prior strength by the method of moments) and its reliability n/(n+a)."""
    mean = _pooled_rate(successes, trials)
    shown = trials >= 10
    raw = successes[shown] / trials[shown]
    sampling = np.mean(mean * (1 - mean) / trials[shown]) if shown.any() else 0.0
    between = max(float(np.var(raw)) - sampling, 1e-9) if shown.sum() > 1 else 1e-9
    strength = float(np.clip(mean * (1 - mean) / between - 1, 1.0, 1e4))
    return (successes + strength * mean) / (trials + strength), trials / (trials + strength)


def oracle_features(engagement: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per generation: (ridge features, boosted-tree features) from every present signal's smoothed
    rate, reliability and log trials, plus model version and log duration."""
    linear, trees = [], []
    for _, successes, trials in present_signals(engagement):
        x = engagement[successes].to_numpy().astype(float)
        n = engagement[trials].to_numpy().astype(float)
        rate, reliability = _smoothed(x, n)
        linear += [rate, rate * reliability, reliability]
        trees += [rate, np.log1p(n)]
    versions = engagement["model_version"].to_numpy()
    context = [(versions == v).astype(float) for v in np.unique(versions)]
    context.append(np.log(engagement["duration_ms"].to_numpy().astype(float)))
    return np.column_stack(linear + context), np.column_stack(trees + context)


def oracle_scores(
    engagement: pl.DataFrame, target: np.ndarray, groups: np.ndarray, well_shown: np.ndarray
) -> tuple[dict[str, float], str]:
    """Cross-validated (5 folds by request) Spearman of the stronger oracle, and which one it was."""
    linear, trees = oracle_features(engagement)
    models = {
        "ridge": (make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13))), linear),
        "boosted": (
            HistGradientBoostingRegressor(
                max_iter=300, learning_rate=0.05, max_leaf_nodes=15, random_state=0
            ),
            trees,
        ),
    }
    best: tuple[dict[str, float], str] | None = None
    for name, (model, features) in models.items():
        predicted = np.zeros(target.size)
        # one thread: on a shared 2-core machine OpenMP threads oversubscribe it (7x slower)
        with threadpool_limits(limits=1):
            for train, test in GroupKFold(n_splits=5).split(features, target, groups):
                predicted[test] = model.fit(features[train], target[train]).predict(features[test])
        scores = by_scope(predicted, target, well_shown)
        if best is None or sum(scores.values()) > sum(best[0].values()):
            best = (scores, name)
    assert best is not None
    return best


def naive_rates(engagement: pl.DataFrame) -> dict[str, np.ndarray]:
    """Every plain rate a user could rank by, oriented so higher is better; a generation without
    trials gets the pooled rate. Clean rates come from the engagement state (no bots, no
    self-engagement), raw ones from every event (the warehouse's naive_view_rate, naive_like_rate)."""
    rates = {
        "raw view/impression": engagement["naive_view_rate"].to_numpy(),
        "raw like/impression": engagement["naive_like_rate"].to_numpy(),
    }
    impressions = engagement["impressions"].to_numpy().astype(float)
    pairs = [(f"{name}/{t.rstrip('s')}", s, t) for name, s, t in present_signals(engagement)]
    pairs += [
        ("view/impression", "views", "impressions"),
        ("like/impression", "likes", "impressions"),
    ]
    for label, successes, trials in pairs:
        x = engagement[successes].to_numpy().astype(float)
        n = impressions if trials == "impressions" else engagement[trials].to_numpy().astype(float)
        rate = np.where(n > 0, x / np.maximum(n, 1e-12), _pooled_rate(x, n))
        rates[label] = -rate if label.split("/")[0] in NEGATIVE_SIGNALS else rate
    return rates


def best_naive(
    rates: dict[str, np.ndarray], target: np.ndarray, well_shown: np.ndarray
) -> dict[str, tuple[float, str]]:
    """Per scope: the best Spearman any naive rate reaches, and which rate."""
    scored = {name: by_scope(rate, target, well_shown) for name, rate in rates.items()}
    return {
        scope: max(
            ((s[scope], name) for name, s in scored.items() if not np.isnan(s[scope])),
            default=(float("nan"), "-"),
        )
        for scope in SCOPES
    }


@dataclass(frozen=True)
class Coverage:
    """Share of generations whose long-run label lies inside [quality_low, quality_high]."""

    overall: float
    buckets: tuple[tuple[str, int, float], ...]
    """(feed impressions range, generations, coverage) per exposure bucket."""

    def held(self) -> list[float]:
        """The coverages held to the bound: overall and every bucket large enough."""
        return [self.overall] + [c for _, n, c in self.buckets if n >= MIN_BUCKET_GENERATIONS]


def interval_coverage(
    low: np.ndarray, high: np.ndarray, long_run: np.ndarray, impressions: np.ndarray
) -> Coverage:
    """Coverage of the long-run label by the interval, overall and by feed-impression bucket."""
    inside = (long_run >= low) & (long_run <= high)
    buckets = []
    for start, stop in EXPOSURE_BUCKETS:
        part = (impressions >= start) & (impressions < (stop if stop is not None else np.inf))
        name = f"{start}-{stop - 1}" if stop is not None else f">={start}"
        share = float(inside[part].mean()) if part.any() else float("nan")
        buckets.append((name, int(part.sum()), share))
    return Coverage(float(inside.mean()), tuple(buckets))
