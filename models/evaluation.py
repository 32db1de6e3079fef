"""Held-out evaluation of generation scorers: a time split by request, ranking and calibration metrics.

A scorer is any function from a generations frame to one score per row (higher = better); the
preference models, the re-loaded champion and the baselines are all evaluated the same way on the
same split, so their numbers are comparable.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import polars as pl
from scipy.optimize import minimize_scalar
from scipy.special import expit, log_expit
from scipy.stats import spearmanr

from features.label_evaluation import format_table

Scorer = Callable[[pl.DataFrame], np.ndarray]

METRIC_COLUMNS: tuple[str, ...] = (
    "pair_accuracy",
    "sibling_label_accuracy",
    "spearman_label",
    "brier",
    "ece",
    "truth_sibling_accuracy",
)


@dataclass(frozen=True)
class EvaluationConfig:
    """How the held-out window is cut and how calibration is binned."""

    train_fraction: float = 0.7
    calibration_bins: int = 10
    max_slope: float = 1e3


@dataclass(frozen=True)
class EvaluationData:
    """What evaluation reads: generations (request_id, created_at, features), labels, pairs, truth."""

    generations: pl.DataFrame
    labels: pl.DataFrame
    pairs: pl.DataFrame
    truth: pl.DataFrame | None = None


@dataclass(frozen=True)
class RequestSplit:
    """Requests ordered by first generation time: the earliest `train_fraction` train, the rest test."""

    train_request_ids: pl.Series
    test_request_ids: pl.Series
    train_start: datetime | None
    train_end: datetime | None
    test_start: datetime | None
    test_end: datetime | None

    def train(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Rows of `frame` (which has request_id) that belong to training requests."""
        return frame.filter(pl.col("request_id").is_in(self.train_request_ids.implode()))

    def test(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Rows of `frame` (which has request_id) that belong to held-out requests."""
        return frame.filter(pl.col("request_id").is_in(self.test_request_ids.implode()))

    def restricted_to_after(
        self, moment: datetime | None, generations: pl.DataFrame
    ) -> RequestSplit:
        """The same split with test requests started at or before `moment` dropped (another model saw them)."""
        if moment is None:
            return self
        starts = request_starts(generations)
        later = starts.filter(
            pl.col("request_id").is_in(self.test_request_ids.implode())
            & (pl.col("started_at") > moment)
        )
        return RequestSplit(
            self.train_request_ids,
            later["request_id"],
            self.train_start,
            self.train_end,
            later["started_at"].min() if later.height else None,
            later["started_at"].max() if later.height else None,
        )


@dataclass(frozen=True)
class Evaluation:
    """A table of metrics per scorer (rows) plus the reliability bins of each scorer."""

    table: pl.DataFrame
    reliability: dict[str, pl.DataFrame] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def reliability_of(self, scorer: str) -> list[dict[str, float]]:
        """The scorer's reliability bins as JSON-ready rows (bin, bin_low, n, mean_predicted,
        observed); empty when it was not evaluated on any pair."""
        bins = self.reliability.get(scorer)
        return [] if bins is None else bins.to_dicts()

    def metrics_of(self, scorer: str) -> dict[str, float]:
        row = self.table.filter(pl.col("scorer") == scorer)
        if row.height != 1:
            raise ValueError(f"no evaluation row for scorer {scorer!r}")
        return {k: _finite_or_none(v) for k, v in row.drop("scorer").row(0, named=True).items()}


def request_starts(generations: pl.DataFrame) -> pl.DataFrame:
    """One row per request: request_id, started_at (its first generation's created_at)."""
    return (
        generations.group_by("request_id")
        .agg(pl.col("created_at").min().alias("started_at"))
        .sort(["started_at", "request_id"])
    )


def split_requests_by_time(generations: pl.DataFrame, train_fraction: float = 0.7) -> RequestSplit:
    """Train on the first `train_fraction` of requests by start time, test on the rest."""
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction}")
    starts = request_starts(generations)
    n_train = math.floor(starts.height * train_fraction)
    if n_train == 0 or n_train == starts.height:
        raise ValueError(
            f"need requests on both sides of the time split; have {starts.height} request(s)"
        )
    train, test = starts.head(n_train), starts.slice(n_train)
    return RequestSplit(
        train["request_id"],
        test["request_id"],
        train["started_at"].min(),
        train["started_at"].max(),
        test["started_at"].min(),
        test["started_at"].max(),
    )


def sibling_pairs(values: pl.DataFrame, value_column: str) -> pl.DataFrame:
    """All (better, worse) generation pairs of the same request whose `value_column` differs."""
    left = values.select("request_id", "generation_id", pl.col(value_column).alias("v"))
    return (
        left.join(left, on="request_id", suffix="_other")
        .filter(pl.col("v") > pl.col("v_other"))
        .select(
            "request_id",
            pl.col("generation_id").alias("better_generation_id"),
            pl.col("generation_id_other").alias("worse_generation_id"),
        )
    )


def preference_pairs_as_ordered(pairs: pl.DataFrame) -> pl.DataFrame:
    """Preference pairs renamed to (better, worse) so one accuracy function serves all pair kinds."""
    return pairs.select(
        "request_id",
        pl.col("chosen_generation_id").alias("better_generation_id"),
        pl.col("rejected_generation_id").alias("worse_generation_id"),
    )


def scored_pairs(ordered: pl.DataFrame, scores: pl.DataFrame) -> pl.DataFrame:
    """(better, worse) pairs with both scores attached; pairs with an unscored side are dropped."""
    lookup = scores.select("generation_id", "score")
    return (
        ordered.join(lookup, left_on="better_generation_id", right_on="generation_id")
        .rename({"score": "better_score"})
        .join(lookup, left_on="worse_generation_id", right_on="generation_id")
        .rename({"score": "worse_score"})
    )


def ordering_accuracy(scored: pl.DataFrame) -> float:
    """Share of pairs the scores order correctly; a tie counts as half (a coin flip)."""
    if scored.height == 0:
        return math.nan
    better, worse = scored["better_score"].to_numpy(), scored["worse_score"].to_numpy()
    return float(np.mean((better > worse) + 0.5 * (better == worse)))


def fit_win_slope(score_gaps: np.ndarray, max_slope: float = 1e3) -> float:
    """The a >= 0 of P(better wins) = sigmoid(a * gap) that maximises likelihood on training pairs."""
    gaps = np.asarray(score_gaps, dtype=np.float64)
    if gaps.size == 0 or not np.any(gaps):
        return 0.0

    def negative_log_likelihood(a: float) -> float:
        return -float(np.sum(log_expit(a * gaps)))

    result = minimize_scalar(negative_log_likelihood, bounds=(0.0, max_slope), method="bounded")
    return float(result.x)


def reliability_bins(scored: pl.DataFrame, slope: float, n_bins: int = 10) -> pl.DataFrame:
    """Reliability table of P(first wins), each pair seen in both orders (so outcomes are 0 and 1)."""
    p_better = expit(slope * (scored["better_score"].to_numpy() - scored["worse_score"].to_numpy()))
    frame = pl.DataFrame(
        {
            "p": np.concatenate([p_better, 1.0 - p_better]),
            "won": np.concatenate([np.ones_like(p_better), np.zeros_like(p_better)]),
        }
    )
    return (
        frame.with_columns(bin=pl.col("p").mul(n_bins).floor().clip(0, n_bins - 1).cast(pl.Int64))
        .group_by("bin")
        .agg(
            pl.len().alias("n"),
            pl.col("p").mean().alias("mean_predicted"),
            pl.col("won").mean().alias("observed"),
        )
        .with_columns(bin_low=pl.col("bin") / n_bins)
        .sort("bin")
        .select("bin", "bin_low", "n", "mean_predicted", "observed")
    )


def brier_and_ece(scored: pl.DataFrame, slope: float, n_bins: int = 10) -> tuple[float, float]:
    """Brier score of P(chosen wins) and the expected calibration error over reliability bins."""
    if scored.height == 0:
        return math.nan, math.nan
    p_better = expit(slope * (scored["better_score"].to_numpy() - scored["worse_score"].to_numpy()))
    brier = float(np.mean((1.0 - p_better) ** 2))
    bins = reliability_bins(scored, slope, n_bins)
    total = bins["n"].sum()
    ece = float((bins["n"] / total * (bins["mean_predicted"] - bins["observed"]).abs()).sum())
    return brier, ece


def spearman(scores: np.ndarray, values: np.ndarray) -> float:
    """Rank correlation; nan when either side is constant (e.g. the random baseline)."""
    if len(scores) < 2 or np.ptp(scores) == 0 or np.ptp(values) == 0:
        return math.nan
    return float(spearmanr(scores, values).statistic)


def evaluate_scorers(
    scorers: Mapping[str, Scorer],
    data: EvaluationData,
    split: RequestSplit,
    config: EvaluationConfig | None = None,
) -> Evaluation:
    """Every scorer's metrics on the held-out requests of `split` (calibration fitted on train pairs)."""
    config = config or EvaluationConfig()
    labels = data.labels.drop("request_id", strict=False).join(
        data.generations.select("generation_id", "request_id"), on="generation_id"
    )
    test_labels = split.test(labels)
    pairs = preference_pairs_as_ordered(data.pairs)
    train_pairs, test_pairs = split.train(pairs), split.test(pairs)
    label_siblings = sibling_pairs(test_labels, "quality_score")
    truth_siblings = None
    if data.truth is not None:
        truth_test = split.test(
            data.truth.join(
                data.generations.select("generation_id", "request_id"), on="generation_id"
            )
        )
        truth_siblings = sibling_pairs(truth_test, "true_quality")
    scored_generations = pl.concat(
        [split.train(data.generations), split.test(data.generations)], how="vertical"
    )
    rows = []
    reliability = {}
    for name, scorer in scorers.items():
        scores = scored_generations.select("generation_id").with_columns(
            score=pl.Series(np.asarray(scorer(scored_generations), dtype=np.float64))
        )
        train_scored = scored_pairs(train_pairs, scores)
        slope = fit_win_slope(
            train_scored["better_score"].to_numpy() - train_scored["worse_score"].to_numpy(),
            config.max_slope,
        )
        test_scored = scored_pairs(test_pairs, scores)
        brier, ece = brier_and_ece(test_scored, slope, config.calibration_bins)
        reliability[name] = reliability_bins(test_scored, slope, config.calibration_bins)
        labelled = test_labels.join(scores, on="generation_id")
        rows.append(
            {
                "scorer": name,
                "pair_accuracy": ordering_accuracy(test_scored),
                "sibling_label_accuracy": ordering_accuracy(scored_pairs(label_siblings, scores)),
                "spearman_label": spearman(
                    labelled["score"].to_numpy(), labelled["quality_score"].to_numpy()
                ),
                "brier": brier,
                "ece": ece,
                "truth_sibling_accuracy": (
                    ordering_accuracy(scored_pairs(truth_siblings, scores))
                    if truth_siblings is not None
                    else math.nan
                ),
            }
        )
    counts = {
        "train_requests": split.train_request_ids.len(),
        "test_requests": split.test_request_ids.len(),
        "train_pairs": train_pairs.height,
        "test_pairs": test_pairs.height,
        "test_label_sibling_pairs": label_siblings.height,
        "test_truth_sibling_pairs": truth_siblings.height if truth_siblings is not None else 0,
    }
    table = pl.DataFrame(
        rows, schema={"scorer": pl.String, **dict.fromkeys(METRIC_COLUMNS, pl.Float64)}
    )
    return Evaluation(table, reliability, counts)


def baseline_scorers(
    train_generations: pl.DataFrame, train_labels: pl.DataFrame
) -> dict[str, Scorer]:
    """Scorers any model must beat: a coin flip, the per-model-version mean label, prompt length."""
    version_means = (
        train_generations.select("generation_id", "model_version")
        .join(train_labels.select("generation_id", "quality_score"), on="generation_id")
        .group_by("model_version")
        .agg(pl.col("quality_score").mean().alias("mean_quality"))
    )
    overall = float(train_labels["quality_score"].mean()) if train_labels.height else 0.5

    def random_baseline(generations: pl.DataFrame) -> np.ndarray:
        return np.full(generations.height, 0.5)

    def model_version_mean(generations: pl.DataFrame) -> np.ndarray:
        return (
            generations.select("model_version")
            .join(version_means, on="model_version", how="left", maintain_order="left")[
                "mean_quality"
            ]
            .fill_null(overall)
            .to_numpy()
        )

    def prompt_length(generations: pl.DataFrame) -> np.ndarray:
        return generations["prompt"].str.len_chars().cast(pl.Float64).to_numpy()

    return {
        "baseline: random": random_baseline,
        "baseline: model_version mean": model_version_mean,
        "baseline: prompt length": prompt_length,
    }


def _finite_or_none(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def format_evaluation(evaluation: Evaluation) -> str:
    """The metrics table as aligned text (undefined values as '-'), with the pair counts underneath."""
    counts = ", ".join(f"{k}={v}" for k, v in evaluation.counts.items())
    return format_table(evaluation.table.fill_nan(None), float_digits=4) + "\n" + counts
