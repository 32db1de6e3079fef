"""Generation-level labels on a small synthetic population: position debiasing, shrinkage, idempotence.

The warehouse weights impressions by the adopted examination curve; `weighted` does the same here with
the pure functions (curve fitted on every generation's slots, as with examination_sample_buckets = 1).
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from features.debias import effective_impressions
from features.label_config import LabelConfig
from features.label_pipeline import adopted_examination, compute_label_outputs
from features.labels import (
    SIGNAL_COUNTS,
    fitted_label_model,
    label_data,
    label_model_moved,
    quality_scores,
)
from features.smoothing import posterior_moments, prior_moments

CONFIG = LabelConfig(position_min_impressions=20, prior_min_generations=20)


COUNT_COLUMNS: tuple[str, ...] = (
    "likes",
    "unlikes",
    "favorites",
    "shares",
    "comments",
    "downloads",
    "dislikes",
    "reports",
    "studio_impressions",
    "selects",
    "regenerates",
)


class World:
    """Per-generation engagement rows and organic exposure slots, built generation by generation."""

    def __init__(self) -> None:
        self.engagement: list[dict] = []
        self.slots: list[dict] = []

    def add(
        self,
        generation_id: str,
        *,
        slots: dict[int, tuple[int, int]],
        mean_ratio: float,
        counts: dict[str, int],
        duration_ms: int = 8000,
        request: str | None = None,
    ) -> None:
        """slots: feed position -> (impressions, views); views watch `mean_ratio` of the video on average."""
        views = sum(v for _, v in slots.values())
        row = {
            "generation_id": generation_id,
            "request_id": request or f"r_{generation_id}",
            "model_version": "m1",
            "duration_ms": duration_ms,
            "prompt": f"prompt of {generation_id}",
            "impressions": sum(i for i, _ in slots.values()),
            "views": views,
            "watch_ms": int(views * mean_ratio * duration_ms),
            "ratio_sum": views * mean_ratio,
            "ratio_sq_sum": views * (mean_ratio**2 + 0.04),
            **dict.fromkeys(COUNT_COLUMNS, 0),
        }
        row.update(counts)
        self.engagement.append(row)
        for position, (shown, viewed) in slots.items():
            self.slots.append(
                {
                    "generation_id": generation_id,
                    "surface": "feed",
                    "position": position,
                    "impressions": shown,
                    "views": viewed,
                }
            )

    def frames(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        return pl.DataFrame(self.engagement), pl.DataFrame(self.slots)


def population(n: int = 150, seed: int = 0, hidden: dict[str, float] | None = None) -> World:
    """`n` generations whose quality (put in `hidden`) drives views, completion, likes and dislikes."""
    rng = np.random.default_rng(seed)
    world = World()
    for i in range(n):
        quality = rng.uniform(0.1, 0.9)
        if hidden is not None:
            hidden[f"g{i}"] = quality
        positions = rng.integers(0, 26, int(rng.integers(100, 600)))
        slots = {}
        for position in np.unique(positions):
            shown = int(np.sum(positions == position))
            slots[int(position)] = (
                shown,
                int(rng.binomial(shown, (1 + position) ** -0.5 * (0.2 + 0.6 * quality))),
            )
        views = sum(v for _, v in slots.values())
        world.add(
            f"g{i}",
            slots=slots,
            mean_ratio=float(np.clip(rng.normal(0.3 + quality, 0.1), 0.05, 2.0)),
            counts={
                "likes": int(rng.binomial(views, 0.05 + 0.3 * quality)),
                "dislikes": int(rng.binomial(views, 0.1 - 0.08 * quality)),
                "favorites": int(rng.binomial(views, 0.05 * quality)),
            },
            request=f"r{i // 3}",
        )
    return world


def weighted(engagement: pl.DataFrame, slots: pl.DataFrame, config: LabelConfig) -> pl.DataFrame:
    """The engagement with its effective impressions under the examination curve fitted on `slots`."""
    curve, adopted = adopted_examination(slots, None, config)
    assert adopted
    exposure = effective_impressions(slots, curve)
    return (
        engagement.join(exposure, on="generation_id", how="left")
        .with_columns(
            effective_impressions=pl.col("effective_slotted").fill_null(0.0)
            + (pl.col("impressions") - pl.col("slotted_impressions").fill_null(0)).clip(0)
        )
        .drop("slotted_impressions", "effective_slotted")
    )


def labels_of(world: World, config: LabelConfig = CONFIG) -> pl.DataFrame:
    engagement, slots = world.frames()
    return compute_label_outputs(weighted(engagement, slots, config), None, None, config).labels


def score(labels: pl.DataFrame, generation_id: str) -> float:
    return float(labels.filter(pl.col("generation_id") == generation_id)["quality_score"][0])


def test_same_engagement_low_in_the_feed_scores_higher() -> None:
    world = population()
    for name, position in (("top", 0), ("deep", 20)):
        world.add(name, slots={position: (100, 30)}, mean_ratio=0.7, counts={"likes": 6})
    labels = labels_of(world)
    assert score(labels, "deep") > score(labels, "top")
    effective = dict(labels.select("generation_id", "effective_impressions").iter_rows())
    assert effective["top"] == pytest.approx(100.0)
    assert effective["deep"] < 40.0  # slot 20 is examined about (1 + 20) ** -0.5 = 0.22 as often


def test_three_impressions_one_like_is_not_ranked_above_three_thousand_with_nine_hundred() -> None:
    world = population()
    world.add("sparse", slots={0: (3, 2)}, mean_ratio=0.9, counts={"likes": 1})
    world.add("dense", slots={0: (3000, 2000)}, mean_ratio=0.9, counts={"likes": 900})
    labels = labels_of(world)
    assert 1 / 3 > 900 / 3000  # the naive like rate prefers the sparse one
    assert score(labels, "dense") > score(labels, "sparse")
    sparse = labels.filter(pl.col("generation_id") == "sparse").row(0, named=True)
    dense = labels.filter(pl.col("generation_id") == "dense").row(0, named=True)
    assert sparse["quality_high"] - sparse["quality_low"] > 5 * (
        dense["quality_high"] - dense["quality_low"]
    )
    assert dense["label"] == "good"
    assert sparse["label"] == "uncertain"


def test_completion_is_judged_against_videos_of_similar_duration() -> None:
    """Short videos are finished more often: the same watch ratio means less for a short video."""
    world = population()
    rng = np.random.default_rng(9)
    for i in range(60):  # a population of long videos watched less
        world.add(
            f"long{i}",
            slots={0: (200, 80)},
            mean_ratio=float(rng.uniform(0.1, 0.5)),
            counts={"likes": 8},
            duration_ms=40_000,
        )
    for name, duration in (("short_probe", 8000), ("long_probe", 40_000)):
        world.add(
            name, slots={0: (200, 80)}, mean_ratio=0.5, counts={"likes": 8}, duration_ms=duration
        )
    labels = labels_of(
        world,
        LabelConfig(
            position_min_impressions=20, prior_min_generations=20, duration_quantile_buckets=2
        ),
    )
    completion = dict(labels.select("generation_id", "completion_score").iter_rows())
    assert completion["long_probe"] > 0.9 > completion["short_probe"]
    assert score(labels, "long_probe") > score(labels, "short_probe")


def test_scores_are_in_unit_interval_and_bracketed_by_their_interval() -> None:
    labels = labels_of(population())
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
    labels = labels_of(population(seed=4, hidden=hidden))
    joined = labels.with_columns(
        hidden=pl.col("generation_id").replace_strict(hidden, return_dtype=pl.Float64)
    )
    assert joined.select(pl.corr("quality_score", "hidden", method="spearman")).item() > 0.9


def test_recomputation_from_the_same_counts_is_bit_identical_and_the_model_does_not_move() -> None:
    engagement = weighted(*population().frames(), CONFIG)
    first = compute_label_outputs(engagement, None, None, CONFIG)
    again = compute_label_outputs(engagement, first.model, first.reliability, CONFIG)
    assert not again.model_refit and not again.reliability_refit
    assert again.labels.equals(first.labels)
    assert again.pairs.equals(first.pairs)
    assert first.model is not None and again.model is not None
    assert not label_model_moved(first.model, again.model, 0.0)


def test_scores_follow_the_documented_formula_over_the_long_posterior_frame() -> None:
    """quality z = sum_k w_k (posterior mean_k - reference mean_k) / sd_k / norm, one frame for all signals."""
    engagement, slots = population(n=90, seed=2).frames()
    # duration buckets and a rare model version without a prior of their own: the global one applies
    engagement = engagement.with_columns(
        duration_ms=pl.Series(np.random.default_rng(3).integers(2000, 60_000, engagement.height)),
        model_version=pl.when(pl.int_range(pl.len()) < 80)
        .then(pl.lit("m1"))
        .otherwise(pl.lit("m2")),
    )
    model, inputs = fitted_label_model(label_data(weighted(engagement, slots, CONFIG)), CONFIG)
    scores = quality_scores(inputs, model, CONFIG)
    segments = set(model.priors["segment"])
    assert "m1" in segments and "m2" not in segments
    assert not segments & {f"duration_bucket_{i}" for i in range(len(inputs.edges))}
    scales = dict(
        model.priors.filter(pl.col("segment") == "*").select("signal", "trials_scale").iter_rows()
    )
    frame = inputs.frame.with_columns(
        completion_sum=pl.col("ratio_sum") / CONFIG.watch_ratio_cap,
        duration_segment=pl.lit("duration_bucket_")
        + pl.Series(inputs.duration_bucket).cast(pl.String),
    )
    long = pl.concat(
        frame.select(
            "generation_id",
            segment=pl.col("duration_segment" if signal == "completion" else "model_version"),
            signal=pl.lit(signal),
            successes=pl.col(SIGNAL_COUNTS[signal][0]).cast(pl.Float64) * scales[signal],
            trials=pl.col(SIGNAL_COUNTS[signal][1]).cast(pl.Float64) * scales[signal],
        )
        for signal in SIGNAL_COUNTS
    )
    posterior = posterior_moments(long, model.priors.drop("trials_scale"))
    moments = prior_moments(model.priors)
    reference = moments.select("signal", reference="segment", mean="prior_mean", sd="prior_sd")
    global_reference = moments.filter(pl.col("segment") == "*").select(
        "signal", global_mean="prior_mean", global_sd="prior_sd"
    )
    weights = CONFIG.weights()
    norm = np.sqrt(sum(w * w for w in weights.values()))
    z = (
        posterior.with_columns(
            reference=pl.when(pl.col("signal") == "completion")
            .then(pl.col("segment"))
            .otherwise(pl.lit("*"))
        )
        .join(reference, on=["signal", "reference"], how="left")
        .join(global_reference, on="signal")
        .group_by("generation_id")
        .agg(
            (
                pl.col("signal").replace_strict(weights, return_dtype=pl.Float64)
                * (pl.col("posterior_mean") - pl.coalesce("mean", "global_mean"))
                / pl.coalesce("sd", "global_sd")
            ).sum()
            / norm
        )
        .sort("generation_id")
    )
    assert z["generation_id"].equals(scores["generation_id"])
    np.testing.assert_allclose(scores["quality_z"].to_numpy(), z["signal"].to_numpy(), rtol=1e-12)


def test_the_examination_curve_is_kept_until_a_refit_moves_it_beyond_tolerance() -> None:
    _, slots = population().frames()
    curve, adopted = adopted_examination(slots, None, CONFIG)
    assert adopted
    deep = curve.filter(pl.col("position") == 20)["propensity"].item()
    assert 0.1 < deep < 0.4  # the simulated examination of slot 20 is (1 + 20) ** -0.5 = 0.22
    kept, moved = adopted_examination(slots, curve, CONFIG)
    assert not moved and kept.equals(curve)
    nudged = curve.with_columns(pl.col("propensity") * 1.5)
    refit, moved = adopted_examination(slots, nudged, CONFIG)
    assert moved and refit.equals(curve)


def test_no_examination_data_and_no_stored_curve_is_no_change() -> None:
    """Sampled generations without organic impressions fit an empty curve: every impression weighs 1,
    as without a stored curve, so nothing needs re-weighting."""
    _, slots = population().frames()
    curve, adopted = adopted_examination(slots.clear(), None, CONFIG)
    assert curve.is_empty() and not adopted
    fitted, adopted = adopted_examination(slots, None, CONFIG)
    assert adopted and not fitted.is_empty()
