"""Generation-level labels on a small synthetic population: position debiasing, shrinkage, idempotence."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from features.label_config import LabelConfig
from features.label_pipeline import compute_label_outputs
from features.labels import label_model_moved

CONFIG = LabelConfig(position_min_impressions=20, prior_min_generations=20)
BINS = CONFIG.watch_ratio_bins


def population(
    n: int = 150, seed: int = 0, hidden: dict[str, float] | None = None
) -> tuple[list[dict], list[dict], list[dict]]:
    """Engagement, slot and watch rows of `n` generations whose quality (put in `hidden`) drives every rate."""
    rng = np.random.default_rng(seed)
    engagement, positions, watch = [], [], []
    for i in range(n):
        quality = rng.uniform(0.1, 0.9)
        if hidden is not None:
            hidden[f"g{i}"] = quality
        slots = rng.integers(0, 26, int(rng.integers(100, 600)))
        views = 0
        for slot in np.unique(slots):
            shown = int(np.sum(slots == slot))
            viewed = int(rng.binomial(shown, (1 + slot) ** -0.5 * (0.2 + 0.6 * quality)))
            positions.append(
                {
                    "generation_id": f"g{i}",
                    "surface": "feed",
                    "position": int(slot),
                    "impressions": shown,
                    "views": viewed,
                }
            )
            views += viewed
        bins = np.clip(rng.normal(quality * BINS, BINS / 5, views).astype(int), 0, BINS - 1)
        for b in np.unique(bins):
            watch.append(
                {"generation_id": f"g{i}", "ratio_bin": int(b), "views": int(np.sum(bins == b))}
            )
        engagement.append(
            generation(
                f"g{i}",
                request=f"r{i // 3}",
                impressions=len(slots),
                views=views,
                likes=int(rng.binomial(views, 0.05 + 0.3 * quality)),
                dislikes=int(rng.binomial(views, 0.1 - 0.08 * quality)),
                favorites=int(rng.binomial(views, 0.05 * quality)),
            )
        )
    return engagement, positions, watch


def generation(
    generation_id: str, *, request: str, impressions: int, views: int, likes: int, **counts: int
) -> dict:
    row = {
        "generation_id": generation_id,
        "request_id": request,
        "model_version": "m1",
        "duration_ms": 8000,
        "impressions": impressions,
        "views": views,
        "watch_ms": views * 6000,
        "likes": likes,
        "unlikes": 0,
        "favorites": 0,
        "shares": 0,
        "comments": 0,
        "downloads": 0,
        "dislikes": 0,
        "reports": 0,
        "studio_impressions": 0,
        "selects": 0,
        "regenerates": 0,
        "prompt": f"prompt of {request}",
    }
    row.update(counts)
    return row


def labels_of(
    engagement: list[dict], positions: list[dict], watch: list[dict], config: LabelConfig = CONFIG
) -> pl.DataFrame:
    outputs = compute_label_outputs(
        pl.DataFrame(engagement), pl.DataFrame(positions), pl.DataFrame(watch), None, None, config
    )
    return outputs.labels


def score(labels: pl.DataFrame, generation_id: str) -> float:
    return float(labels.filter(pl.col("generation_id") == generation_id)["quality_score"][0])


def test_same_engagement_low_in_the_feed_scores_higher() -> None:
    engagement, positions, watch = population()
    for name, slot in (("top", 0), ("deep", 20)):
        engagement.append(generation(name, request="r_pos", impressions=100, views=30, likes=6))
        positions.append(
            {
                "generation_id": name,
                "surface": "feed",
                "position": slot,
                "impressions": 100,
                "views": 30,
            }
        )
        watch.append({"generation_id": name, "ratio_bin": BINS // 2, "views": 30})
    labels = labels_of(engagement, positions, watch)
    assert score(labels, "deep") > score(labels, "top")
    effective = dict(labels.select("generation_id", "effective_impressions").iter_rows())
    assert effective["top"] == pytest.approx(100.0)
    assert effective["deep"] < 40.0  # slot 20 is examined about (1 + 20) ** -0.5 = 0.22 as often


def test_three_impressions_one_like_is_not_ranked_above_three_thousand_with_nine_hundred() -> None:
    engagement, positions, watch = population()
    engagement.append(generation("sparse", request="r_sparse", impressions=3, views=2, likes=1))
    positions.append(
        {"generation_id": "sparse", "surface": "feed", "position": 0, "impressions": 3, "views": 2}
    )
    watch.append({"generation_id": "sparse", "ratio_bin": int(0.7 * BINS), "views": 2})
    engagement.append(
        generation("dense", request="r_dense", impressions=3000, views=2000, likes=900)
    )
    positions.append(
        {
            "generation_id": "dense",
            "surface": "feed",
            "position": 0,
            "impressions": 3000,
            "views": 2000,
        }
    )
    watch.append({"generation_id": "dense", "ratio_bin": int(0.7 * BINS), "views": 2000})
    labels = labels_of(engagement, positions, watch)
    assert 1 / 3 > 900 / 3000  # the naive like rate prefers the sparse one
    assert score(labels, "dense") > score(labels, "sparse")
    sparse = labels.filter(pl.col("generation_id") == "sparse").row(0, named=True)
    dense = labels.filter(pl.col("generation_id") == "dense").row(0, named=True)
    assert sparse["quality_high"] - sparse["quality_low"] > 5 * (
        dense["quality_high"] - dense["quality_low"]
    )
    assert dense["label"] == "good"
    assert sparse["label"] == "uncertain"


def test_scores_are_in_unit_interval_and_bracketed_by_their_interval() -> None:
    labels = labels_of(*population())
    assert labels.select(
        (
            (pl.col("quality_low") <= pl.col("quality_score"))
            & (pl.col("quality_score") <= pl.col("quality_high"))
        ).all()
    ).item()
    assert labels.select(
        ((pl.col("quality_low") >= 0) & (pl.col("quality_high") <= 1)).all()
    ).item()
    assert set(labels["label"].unique()) <= {"good", "bad", "uncertain"}


def test_quality_follows_the_hidden_quality_of_the_population() -> None:
    hidden: dict[str, float] = {}
    labels = labels_of(*population(seed=4, hidden=hidden))
    joined = labels.with_columns(
        hidden=pl.col("generation_id").replace_strict(hidden, return_dtype=pl.Float64)
    )
    assert joined.select(pl.corr("quality_score", "hidden", method="spearman")).item() > 0.9


def test_recomputation_from_the_same_counts_is_bit_identical_and_the_model_does_not_move() -> None:
    engagement, positions, watch = population()
    frames = (pl.DataFrame(engagement), pl.DataFrame(positions), pl.DataFrame(watch))
    first = compute_label_outputs(*frames, None, None, CONFIG)
    again = compute_label_outputs(*frames, first.model, first.reliability, CONFIG)
    assert not again.model_refit and not again.reliability_refit
    assert again.labels.equals(first.labels)
    assert again.pairs.equals(first.pairs)
    assert first.model is not None
    assert not label_model_moved(first.model, again.model, 0.0)  # type: ignore[arg-type]
