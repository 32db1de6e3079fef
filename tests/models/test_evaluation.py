"""Held-out evaluation: the time split, pair orderings, calibration, and scorers on a tiny world."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from models.evaluation import (
    baseline_scorers,
    brier_and_ece,
    evaluate_scorers,
    fit_win_slope,
    format_evaluation,
    ordering_accuracy,
    reliability_bins,
    sibling_pairs,
    split_requests_by_time,
)
from models.training import MODEL_KINDS, train_bundle

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_split_trains_on_the_earliest_requests_by_their_first_generation():
    generations = pl.DataFrame(
        {
            "request_id": ["c", "a", "b", "a", "d", "e"],
            "created_at": [T0 + timedelta(hours=h) for h in (2, 5, 1, 0, 4, 3)],
        }
    )
    split = split_requests_by_time(generations, 0.6)
    # request starts: a 0h, b 1h, c 2h, e 3h, d 4h -> first 3 train
    assert split.train_request_ids.to_list() == ["a", "b", "c"]
    assert split.test_request_ids.to_list() == ["e", "d"]
    assert (split.train_start, split.train_end) == (T0, T0 + timedelta(hours=2))
    assert (split.test_start, split.test_end) == (T0 + timedelta(hours=3), T0 + timedelta(hours=4))
    later = split.restricted_to_after(T0 + timedelta(hours=3), generations)
    assert later.test_request_ids.to_list() == ["d"]
    assert later.test_start == T0 + timedelta(hours=4)
    with pytest.raises(ValueError, match="both sides"):
        split_requests_by_time(generations.head(1), 0.7)
    with pytest.raises(ValueError, match="train_fraction"):
        split_requests_by_time(generations, 1.0)


def test_sibling_pairs_are_every_ordered_pair_with_distinct_values_in_a_request():
    values = pl.DataFrame(
        {
            "request_id": ["r1", "r1", "r1", "r2", "r2"],
            "generation_id": ["a", "b", "c", "d", "e"],
            "v": [0.9, 0.1, 0.1, 0.5, 0.5],
        }
    )
    pairs = sibling_pairs(values, "v").sort("worse_generation_id")
    assert pairs.select("better_generation_id", "worse_generation_id").rows() == [
        ("a", "b"),
        ("a", "c"),
    ]


def test_ordering_accuracy_counts_ties_as_half():
    scored = pl.DataFrame(
        {"better_score": [2.0, 1.0, 0.0, 3.0], "worse_score": [1.0, 1.0, 1.0, 0.0]}
    )
    assert ordering_accuracy(scored) == pytest.approx((1 + 0.5 + 0 + 1) / 4)
    assert math.isnan(ordering_accuracy(scored.head(0)))


def test_win_slope_and_calibration_on_hand_computed_pairs():
    assert fit_win_slope(np.zeros(3)) == 0.0
    # gaps +1 three times and -1 once: MLE of sigmoid(a) = 3/4 -> a = ln 3
    assert fit_win_slope(np.array([1.0, 1.0, 1.0, -1.0])) == pytest.approx(math.log(3), abs=1e-4)
    scored = pl.DataFrame(
        {"better_score": [1.0, 1.0, 1.0, 0.0], "worse_score": [0.0, 0.0, 0.0, 1.0]}
    )
    brier, ece = brier_and_ece(scored, math.log(3))
    # P(better wins) = 3/4 on three pairs, 1/4 on one: Brier = (3 * 1/16 + 9/16) / 4
    assert brier == pytest.approx((3 / 16 + 9 / 16) / 4)
    # both orders: bin 0.7 holds p=.75 x3 (won) and p=.75 x1 (lost) -> observed .75; symmetric in 0.2
    assert ece == pytest.approx(0.0)
    bins = reliability_bins(scored, math.log(3))
    assert bins.select("bin", "n", "observed").rows() == [(2, 4, 0.25), (7, 4, 0.75)]


def test_evaluation_of_oracle_reversed_and_baseline_scorers(world):
    split = split_requests_by_time(world.generations, 0.7)
    truth = dict(world.truth.iter_rows())

    def oracle(generations: pl.DataFrame) -> np.ndarray:
        return np.array([truth[g] for g in generations["generation_id"]])

    train_labels = world.labels.filter(
        pl.col("generation_id").is_in(split.train(world.generations)["generation_id"].implode())
    )
    scorers = {"oracle": oracle, "reversed": lambda g: -oracle(g)}
    scorers.update(baseline_scorers(split.train(world.generations), train_labels))
    evaluation = evaluate_scorers(scorers, world, split)
    oracle_metrics = evaluation.metrics_of("oracle")
    assert oracle_metrics["pair_accuracy"] == 1.0
    assert oracle_metrics["sibling_label_accuracy"] == 1.0
    assert oracle_metrics["truth_sibling_accuracy"] == 1.0
    assert oracle_metrics["spearman_label"] == pytest.approx(1.0)
    assert evaluation.metrics_of("reversed")["truth_sibling_accuracy"] == 0.0
    random_metrics = evaluation.metrics_of("baseline: random")
    assert random_metrics["pair_accuracy"] == 0.5
    assert random_metrics["brier"] == 0.25
    assert random_metrics["spearman_label"] is None
    assert evaluation.counts["train_requests"] == 42
    assert evaluation.counts["test_requests"] == 18
    assert "baseline: model_version mean" in format_evaluation(evaluation)


def test_trained_models_beat_the_baselines_on_held_out_truth(world):
    split = split_requests_by_time(world.generations, 0.7)
    bundles = {
        kind: train_bundle(
            kind, split.train(world.generations), world.labels, split.train(world.pairs)
        )
        for kind in MODEL_KINDS
    }
    train_labels = world.labels.filter(
        pl.col("generation_id").is_in(split.train(world.generations)["generation_id"].implode())
    )
    scorers = {kind: b.score for kind, b in bundles.items()}
    scorers.update(baseline_scorers(split.train(world.generations), train_labels))
    evaluation = evaluate_scorers(scorers, world, split)
    best_baseline = max(
        evaluation.metrics_of(name)["truth_sibling_accuracy"]
        for name in scorers
        if name.startswith("baseline")
    )
    for kind in MODEL_KINDS:
        assert evaluation.metrics_of(kind)["truth_sibling_accuracy"] > max(0.85, best_baseline)
    # predicted quality is on the label scale
    quality = bundles["pairwise"].predicted_quality(world.generations)
    assert quality.min() >= 0.0 and quality.max() <= 1.0
