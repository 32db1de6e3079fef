"""Generation-level labels on small synthetic populations: exposure and duration corrections, shrinkage,
unknown durations, intervals of the long-run label, idempotence."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from features.label_config import LabelConfig
from features.label_model import long_run_scores
from features.label_parameters import label_model_from, label_model_moved, model_parameters
from features.label_pipeline import adopted_examination, compute_label_outputs
from tests.features.label_world import LabelWorld, population

CONFIG = LabelConfig(prior_min_generations=20)


def outputs_of(world: LabelWorld, config: LabelConfig = CONFIG):
    engagement, cells = world.frames()
    return compute_label_outputs(engagement, cells, None, None, config)


def labels_of(world: LabelWorld, config: LabelConfig = CONFIG) -> pl.DataFrame:
    return outputs_of(world, config).labels


def row(labels: pl.DataFrame, generation_id: str) -> dict:
    return labels.filter(pl.col("generation_id") == generation_id).row(0, named=True)


def test_the_same_engagement_deep_in_the_feed_scores_higher() -> None:
    """A generation shown where the feed is examined 0.3 as often earns its views against fewer
    effective impressions."""
    world = population()
    world.add("top", impressions=300, view_rate=0.3, actions={"like": 0.05})
    world.add_copy("deep", of="top", examination=0.3)
    labels = labels_of(world)
    assert row(labels, "deep")["views"] == row(labels, "top")["views"]
    assert row(labels, "deep")["effective_impressions"] == pytest.approx(90.0)
    assert row(labels, "deep")["quality_score"] > row(labels, "top")["quality_score"]


def test_three_impressions_are_not_ranked_above_three_thousand_and_are_uncertain() -> None:
    world = population()
    world.add("sparse", impressions=3, view_rate=0.7, completion=0.75, actions={"like": 0.3})
    world.add("dense", impressions=3000, view_rate=0.7, completion=0.75, actions={"like": 0.3})
    labels = labels_of(world)
    sparse, dense = row(labels, "sparse"), row(labels, "dense")
    assert dense["quality_score"] > sparse["quality_score"]
    width = sparse["quality_high"] - sparse["quality_low"]
    assert width > 5 * (dense["quality_high"] - dense["quality_low"])
    assert dense["label"] == "good" and sparse["label"] == "uncertain"


def test_completion_is_judged_against_videos_of_similar_duration() -> None:
    """Long videos are watched less: half of a long video is good, half of a short one is poor."""
    world = LabelWorld(seed=3)
    rng = np.random.default_rng(9)
    for i in range(120):
        short = i % 2 == 0
        world.add(
            f"d{i:03d}",
            impressions=200,
            view_rate=0.4,
            completion=float(rng.uniform(0.5, 1.0) if short else rng.uniform(0.1, 0.5)),
            duration_ms=6_000 if short else 40_000,
        )
    for name, duration in (("short_probe", 6_000), ("long_probe", 40_000)):
        world.add(name, impressions=400, view_rate=0.4, completion=0.5, duration_ms=duration)
    labels = labels_of(world, LabelConfig(prior_min_generations=20, duration_quantile_buckets=2))
    assert row(labels, "long_probe")["completion_score"] > 0.8
    assert row(labels, "short_probe")["completion_score"] < 0.3


def test_a_placeholder_duration_gives_no_completion_signal_at_all() -> None:
    """A 1 ms duration caps every view's ratio: that must not read as a perfect completion, nor as any."""
    scores = []
    for completion in (2.0, 0.05):
        world = population(n=200)
        world.add("unknown", impressions=500, view_rate=0.4, completion=completion, duration_ms=1)
        labels = labels_of(world)
        scores.append(row(labels, "unknown"))
    assert scores[0]["completion_score"] is None and scores[1]["completion_score"] is None
    assert scores[0]["quality_score"] == pytest.approx(scores[1]["quality_score"], abs=0.02)


def test_scores_are_in_unit_interval_bracketed_by_their_interval_and_follow_quality() -> None:
    hidden: dict[str, float] = {}
    labels = labels_of(population(seed=4, hidden=hidden))
    inside = (pl.col("quality_low") <= pl.col("quality_score")) & (
        pl.col("quality_score") <= pl.col("quality_high")
    )
    assert labels.select(inside.all()).item()
    assert labels.select(
        ((pl.col("quality_low") >= 0) & (pl.col("quality_high") <= 1)).all()
    ).item()
    assert set(labels["label"].unique()) <= {"good", "bad", "uncertain"}
    joined = labels.with_columns(
        hidden=pl.col("generation_id").replace_strict(hidden, return_dtype=pl.Float64)
    )
    assert joined.select(pl.corr("quality_score", "hidden", method="spearman")).item() > 0.85


def test_the_interval_covers_the_long_run_label_about_as_often_as_it_says() -> None:
    """Feed each generation's true rates to the fitted model: the long-run label. A 90% band should
    cover it about 90% of the time, sparse or well shown."""
    world = population(n=900, seed=7)
    outputs = outputs_of(world)
    engagement, _ = world.frames()
    model = outputs.fit.model
    rates = world_rates(world, engagement)
    long_run = long_run_scores(model, rates).to_numpy()
    labels = outputs.labels
    covered = (labels["quality_low"].to_numpy() <= long_run) & (
        long_run <= labels["quality_high"].to_numpy()
    )
    assert 0.84 <= covered.mean() <= 0.96
    sparse = labels["impressions"].to_numpy() < 60
    assert 0.8 <= covered[sparse].mean() <= 0.98 and 0.8 <= covered[~sparse].mean() <= 0.98


def world_rates(world: LabelWorld, engagement: pl.DataFrame) -> pl.DataFrame:
    """The true long-run rate of every signal of each generation of `population` (as drawn)."""
    rates = pl.DataFrame(world.truths).sort("generation_id")
    return engagement.select("generation_id", "model_version", "duration_ms", "impressions").join(
        rates, on="generation_id", how="left", maintain_order="left"
    )


def test_recomputation_is_bit_identical_and_the_stored_model_reads_back_exactly() -> None:
    engagement, cells = population().frames()
    first = compute_label_outputs(engagement, cells, None, None, CONFIG)
    stored = label_model_from(model_parameters(first.fit.model))
    assert not label_model_moved(first.fit.model, stored, 0.0)
    again = compute_label_outputs(engagement, cells, first.fit, first.reliability, CONFIG)
    assert not again.model_refit and not again.reliability_refit
    assert again.labels.equals(first.labels)
    assert again.pairs.equals(first.pairs)
    assert again.diagnostics.equals(first.diagnostics)


def slots_of(n: int, seed: int) -> pl.DataFrame:
    """Impressions and views per feed slot of `n` generations, slot s examined (1 + s) ** -0.5."""
    rng = np.random.default_rng(seed)
    rows = []
    for g in range(n):
        appeal = rng.uniform(0.2, 0.8)
        for position in range(26):
            shown = int(rng.integers(5, 30))
            views = int(rng.binomial(shown, (1 + position) ** -0.5 * appeal))
            rows.append((f"g{g:03d}", "feed", position, shown, views))
    return pl.DataFrame(
        rows, schema=["generation_id", "surface", "position", "impressions", "views"], orient="row"
    )


def test_the_examination_curve_is_kept_until_a_refit_moves_it_beyond_tolerance() -> None:
    slots = slots_of(150, seed=1)
    curve, adopted = adopted_examination(slots, None, CONFIG)
    assert adopted
    deep = curve.filter(pl.col("position") == 20)["propensity"].item()
    assert 0.15 < deep < 0.3  # the simulated examination of slot 20 is (1 + 20) ** -0.5 = 0.22
    kept, moved = adopted_examination(slots, curve, CONFIG)
    assert not moved and kept.equals(curve)
    refit, moved = adopted_examination(
        slots, curve.with_columns(pl.col("propensity") * 1.5), CONFIG
    )
    assert moved and refit.equals(curve)


def test_no_examination_data_and_no_stored_curve_is_no_change() -> None:
    """Sampled generations without organic impressions fit an empty curve: every impression weighs 1,
    as without a stored curve, so nothing needs re-weighting."""
    slots = slots_of(20, seed=2)
    curve, adopted = adopted_examination(slots.clear(), None, CONFIG)
    assert curve.is_empty() and not adopted
