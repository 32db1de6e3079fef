"""The truth's long-run rates agree with what a large simulated world's events show, signal by signal
and across the range of each rate, in the default world and in one with every knob turned."""

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
from landing.simulate.events import draw_watch_ms
from landing.simulate.expected import expected_completion, expected_long_view, expected_rates
from landing.simulate.signals import examination
from landing.simulate.world import SimulatedWorld

KNOBBED = SimulationConfig(
    requests=1500,
    seed=3,
    days=6,
    exposure_scale=1.5,
    examination_shape="fold",
    examination_fold=3,
    examination_below_fold=0.4,
    signal_quality_weights=(("share", 0.0), ("like", 0.5)),
    signal_noise_sd=(("view", 0.5), ("completion", 0.4), ("share", 0.8)),
    signal_nuisance=(("view", 0.6), ("share", 0.7)),
    category_action_effects=(("food", "like", 1.0), ("action", "share", 0.8)),
    completion_duration_slope=1.4,
    studio_share=0.6,
    bot_share=0.04,
    bot_target_share=0.5,
    truth_watch_ratio_cap=1.5,
    truth_long_view_ms=6_000,
)
DEFAULT = SimulationConfig(requests=1500, seed=5, days=6)


def _clean_events(world: SimulatedWorld) -> pl.DataFrame:
    """Every first delivery of a human viewer's event on someone else's generation (gen, etype,
    surface, position, watch_ms), plus the studio events."""
    config = world.config
    chunks = pl.concat(
        build_event_chunk(world, day, part).filter(~pl.col("duplicate"))
        for day in range(config.days)
        for part in range(int(world.parts_per_day[day]))
    )
    creator = world.column("creator")[chunks.get_column("gen").to_numpy()]
    is_bot = world.viewers.get_column("is_bot").to_numpy()[chunks.get_column("viewer").to_numpy()]
    studio = chunks.get_column("surface").to_numpy() == SURFACE_CODE["studio"]
    organic = (chunks.get_column("viewer").to_numpy() != creator) & ~is_bot
    return chunks.filter(pl.Series(organic | studio))


def _agreement(
    observed: np.ndarray, expected: np.ndarray, variance: np.ndarray, rate: np.ndarray
) -> list[float]:
    """z = (sum observed - sum expected) / sd, over all cells and within four ranges of `rate`
    holding a quarter of the expected total each (so every range is large enough for a z)."""
    order = np.argsort(rate, kind="stable")
    cumulative = np.cumsum(expected[order])
    bins = np.empty(rate.size, dtype=np.int64)
    bins[order] = np.searchsorted(cumulative[-1] * np.array([0.25, 0.5, 0.75]), cumulative)
    return [
        float(
            (observed[part].sum() - expected[part].sum())
            / np.sqrt(max(variance[part].sum(), 1e-12))
        )
        for part in [np.ones(rate.size, dtype=bool), *(bins == b for b in range(4))]
    ]


def _bernoulli(outcome: np.ndarray, p: np.ndarray) -> list[float]:
    return _agreement(outcome, p, p * (1 - p), p)


def _view_agreement(
    world: SimulatedWorld, organic: pl.DataFrame, view_rate: np.ndarray
) -> list[float]:
    """Views per (generation, viewer, session, surface, position) cell against the sum over the
    cell's impressions of examination x attractiveness."""
    config = world.config
    cell = ["gen", "viewer", "session", "surface", "position"]
    impressions = organic.filter(pl.col("etype") == EVENT_CODE["impression"])
    surface = impressions.get_column("surface").to_numpy()
    exam = examination(config, impressions.get_column("position").to_numpy())
    for name, value in config.surface_examination:
        exam = np.where(surface == SURFACE_CODE[name], value, exam)
    p = exam * view_rate[impressions.get_column("gen").to_numpy()]
    cells = (
        impressions.select(cell)
        .with_columns(p=p, var=p * (1 - p))
        .group_by(cell)
        .agg(pl.col("p").sum(), pl.col("var").sum())
        .join(
            organic.filter(pl.col("etype") == EVENT_CODE["view"]).group_by(cell).len(),
            on=cell,
            how="left",
        )
    )
    rate = view_rate[cells.get_column("gen").to_numpy()]
    observed = cells.get_column("len").fill_null(0).to_numpy().astype(float)
    return _agreement(observed, cells["p"].to_numpy(), cells["var"].to_numpy(), rate)


def _per_generation(events: pl.DataFrame, event_type: str, n: int) -> np.ndarray:
    gen = events.filter(pl.col("etype") == EVENT_CODE[event_type]).get_column("gen").to_numpy()
    return np.bincount(gen, minlength=n).astype(float)


def _observed_vs_expected(world: SimulatedWorld) -> dict[str, list[float]]:
    """Per signal: z-scores of the simulated outcomes against the truth's rates."""
    config = world.config
    rates = expected_rates(config, world.generations)
    events = _clean_events(world)
    organic = events.filter(pl.col("surface") != SURFACE_CODE["studio"])
    result = {"view": _view_agreement(world, organic, rates["rate_view"].to_numpy())}
    views = organic.filter(pl.col("etype") == EVENT_CODE["view"])
    viewed = views.get_column("gen").to_numpy()
    watched = views.get_column("watch_ms").to_numpy()
    duration = world.column("duration_ms")[viewed]
    cap = config.truth_watch_ratio_cap
    completion = rates["rate_completion"].to_numpy()[viewed]
    capped = np.minimum(watched / duration, cap) / cap
    result["completion"] = _agreement(capped, completion, (capped - completion) ** 2, completion)
    long_view = (watched >= duration) | (watched >= config.truth_long_view_ms)
    result["long_view"] = _bernoulli(
        long_view.astype(float), rates["rate_long_view"].to_numpy()[viewed]
    )
    trials = np.bincount(viewed, minlength=world.n_generations).astype(float)
    shown = trials > 0
    for action in config.actions:
        counts = _per_generation(organic, action.event_type, world.n_generations)
        if action.event_type == "like":
            counts -= _per_generation(organic, "unlike", world.n_generations)
        rate = rates[f"rate_{action.event_type}"].to_numpy()
        result[action.event_type] = _agreement(
            counts[shown], (trials * rate)[shown], (trials * rate * (1 - rate))[shown], rate[shown]
        )
    studio = world.column("in_studio")
    for signal, column in (("select", "selected"), ("regenerate", "regenerated")):
        outcome = world.column(column)[studio].astype(float)
        result[signal] = _bernoulli(outcome, rates[f"rate_{signal}"].to_numpy()[studio])
    return result


@pytest.mark.parametrize("config", [DEFAULT, KNOBBED], ids=["default", "knobbed"])
def test_simulated_counts_agree_with_the_truths_long_run_rates(config: SimulationConfig) -> None:
    world = build_world(config)
    agreement = _observed_vs_expected(world)
    assert set(agreement) == {
        "view", "completion", "long_view", "select", "regenerate",
        *(a.event_type for a in config.actions),
    }  # fmt: skip
    worst = {signal: max(abs(z) for z in zs) for signal, zs in agreement.items()}
    assert all(z < 4.0 for z in worst.values()), worst


def test_expected_completion_and_long_view_match_the_drawn_watch_times_at_any_cap() -> None:
    config = SimulationConfig(completion_concentration=3.0, loop_share=0.5)
    logit = np.repeat([-2.0, 0.0, 2.0], 100_000)
    duration = np.full(logit.size, 8_000)
    watched = draw_watch_ms(config, np.random.default_rng(0), logit, duration) / duration
    for cap in (0.5, 1.0, 1.7, 2.0, 3.5):
        simulated = np.minimum(watched, cap).reshape(3, -1).mean(axis=1) / cap
        expected = expected_completion(config, np.array([-2.0, 0.0, 2.0]), cap)
        np.testing.assert_allclose(expected, simulated, atol=3e-3)
    for long_view_ms in (0, 3_000, 7_999, 20_000):
        simulated = ((watched >= 1) | (watched * 8_000 >= long_view_ms)).reshape(3, -1).mean(axis=1)
        expected = expected_long_view(
            config, np.array([-2.0, 0.0, 2.0]), np.full(3, 8_000), long_view_ms
        )
        np.testing.assert_allclose(expected, simulated, atol=4e-3)
