"""Event chunks scale with the world and follow hidden quality through the usual biases; bots do not."""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.stats import spearmanr

from landing.simulate import EVENT_CODE, SimulationConfig, build_event_chunk, build_world


def test_counts_scale_with_requests() -> None:
    def counts(requests: int) -> tuple[int, int]:
        world = build_world(SimulationConfig(requests=requests, days=4))
        events = sum(
            build_event_chunk(world, day, part).height
            for day in range(4)
            for part in range(int(world.parts_per_day[day]))
        )
        return world.n_generations, events

    small, large = counts(100), counts(400)
    assert 3.5 < large[0] / small[0] < 4.5
    assert 2.5 < large[1] / small[1] < 5.5
    assert 2.0 < small[0] / 100 < 4.0


def test_engagement_follows_quality_and_bots_ignore_it() -> None:
    world = build_world(SimulationConfig(requests=400, seed=1, days=7))
    chunks = pl.concat(
        build_event_chunk(world, day, part).filter(~pl.col("duplicate"))
        for day in range(7)
        for part in range(int(world.parts_per_day[day]))
    )
    viewers = world.viewers.select(pl.col("user").cast(pl.Int32).alias("viewer"), "is_bot")
    events = chunks.join(viewers, on="viewer")
    per_gen = (
        events.filter(~pl.col("is_bot") & (pl.col("surface") == 0))
        .group_by("gen")
        .agg(
            impressions=(pl.col("etype") == EVENT_CODE["impression"]).sum(),
            views=(pl.col("etype") == EVENT_CODE["view"]).sum(),
        )
        .filter(pl.col("impressions") >= 30)
    )
    quality = world.column("true_quality")[per_gen.get_column("gen").to_numpy()]
    view_rate = (per_gen.get_column("views") / per_gen.get_column("impressions")).to_numpy()
    assert spearmanr(quality, view_rate).statistic > 0.7
    bots = events.filter(pl.col("is_bot"))
    bots = bots.with_columns(
        good=pl.Series(world.column("true_quality")[bots.get_column("gen").to_numpy()] > 0.5)
    )
    bot_like_rate = bots.group_by("good").agg(
        rate=(pl.col("etype") == EVENT_CODE["like"]).sum()
        / (pl.col("etype") == EVENT_CODE["impression"]).sum()
    )
    low, high = bot_like_rate.sort("good").get_column("rate").to_list()
    assert abs(high - low) < 0.05 and low > 0.2
    per_viewer = events.filter(pl.col("etype") == 0).group_by("viewer", "is_bot").len()
    means = per_viewer.group_by("is_bot").agg(pl.col("len").mean()).sort("is_bot")
    assert means.get_column("len")[1] > 5 * means.get_column("len")[0]
    studio = events.filter(pl.col("etype") == EVENT_CODE["select"]).get_column("gen").to_numpy()
    assert (
        np.mean(world.column("true_quality")[studio]) > np.mean(world.column("true_quality")) + 0.1
    )
