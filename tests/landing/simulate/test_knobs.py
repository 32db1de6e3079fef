"""The knobs that make worlds differ do what they say, and a bad knob is a clear error."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from landing.simulate import (
    EVENT_CODE,
    SURFACE_CODE,
    SimulationConfig,
    build_event_chunk,
    build_world,
)
from landing.simulate.signals import examination, logit_column
from landing.simulate.world import SimulatedWorld


def _events(config: SimulationConfig) -> tuple[SimulatedWorld, pl.DataFrame]:
    """The world of `config` and every event drawn in it."""
    world = build_world(config)
    events = pl.concat(
        build_event_chunk(world, day, part)
        for day in range(config.days)
        for part in range(int(world.parts_per_day[day]))
    )
    return world, events


def test_bad_knobs_are_clear_value_errors() -> None:
    with pytest.raises(ValueError, match="exposure_scale must be in"):
        SimulationConfig(exposure_scale=0)
    with pytest.raises(ValueError, match="examination_shape must be one of"):
        SimulationConfig(examination_shape="zigzag")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="signal_noise_sd names unknown signal"):
        SimulationConfig(signal_noise_sd=(("likes", 0.3),))
    with pytest.raises(ValueError, match="category_action_effects"):
        SimulationConfig(category_action_effects=(("food", "view", 1.0),))
    with pytest.raises(ValueError, match="studio_share"):
        SimulationConfig(studio_share=1.5)


def test_examination_shapes_start_at_one_and_fall_as_configured() -> None:
    position = np.arange(8)
    power = examination(SimulationConfig(), position)
    np.testing.assert_allclose(power, (1.0 + position) ** -0.5)
    exponential = examination(
        SimulationConfig(examination_shape="exponential", examination_decay=0.3), position
    )
    np.testing.assert_allclose(exponential, np.exp(-0.3 * position))
    fold = examination(
        SimulationConfig(examination_shape="fold", examination_fold=3, examination_below_fold=0.4),
        position,
    )
    np.testing.assert_allclose(fold[:3], 1.0)
    np.testing.assert_allclose(fold[3:], 0.4 * (1.0 + np.arange(5)) ** -0.5)


def test_exposure_scale_scales_planned_impressions() -> None:
    base = build_world(SimulationConfig(requests=300, seed=2, days=4)).feed_plan.sum()
    low = build_world(SimulationConfig(requests=300, seed=2, days=4, exposure_scale=0.2))
    assert 0.17 < low.feed_plan.sum() / base < 0.23


def test_a_signal_without_quality_weight_ignores_quality_and_noise_is_persistent() -> None:
    config = SimulationConfig(
        requests=300,
        signal_quality_weights=(("share", 0.0),),
        signal_noise_sd=(("like", 0.5),),
        category_action_effects=(("food", "share", 1.2),),
    )
    world = build_world(config)
    share = world.column(logit_column("share"))
    food = world.generations.get_column("category").to_numpy() == "food"
    np.testing.assert_allclose(share, -4.5 + 1.2 * food)
    default = build_world(SimulationConfig(requests=300))
    shift = world.column(logit_column("like")) - default.column(logit_column("like"))
    assert 0.45 < shift.std() < 0.55
    np.testing.assert_array_equal(
        world.column(logit_column("view")), default.column(logit_column("view"))
    )


def test_studio_share_zero_is_a_product_without_a_studio() -> None:
    world, events = _events(SimulationConfig(requests=120, days=3, studio_share=0.0))
    assert not world.column("selected").any() and not world.column("regenerated").any()
    assert events.filter(pl.col("surface") == SURFACE_CODE["studio"]).is_empty()
    assert events.filter(pl.col("etype") == EVENT_CODE["select"]).is_empty()


def test_targeting_bots_pile_their_impressions_on_the_generations_they_promote() -> None:
    config = SimulationConfig(
        requests=200, days=4, bot_share=0.03, bot_target_share=0.6, bot_promoted_share=0.02
    )
    world, events = _events(config)
    bots = world.viewers.filter(pl.col("is_bot")).get_column("user").cast(pl.Int32)
    bot_impressions = events.filter(
        pl.col("viewer").is_in(bots.implode()) & (pl.col("etype") == EVENT_CODE["impression"])
    )
    promoted = bot_impressions.get_column("gen").is_in(world.bot_targets.tolist()).mean()
    assert 0.5 < promoted < 0.75
    untargeted = build_world(SimulationConfig(requests=200, days=4, bot_share=0.03))
    assert untargeted.feed_plan.sum() == world.feed_plan.sum()
