"""The examination curve and the D2Q completion quantiles on tiny frames."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from features.curve_shrinkage import SlotEstimates, between_variance, shrunk_log_propensity
from features.debias import (
    CurveShape,
    completion_quantile,
    completion_quantile_grid,
    duration_bucket_edges,
    effective_impressions,
    examination_curve,
)


def ranked_feed(n_generations: int, seed: int) -> tuple[pl.DataFrame, np.ndarray]:
    """Impressions and views per (generation, slot) from a feed that ranks better videos higher."""
    rng = np.random.default_rng(seed)
    attractiveness = rng.uniform(0.1, 0.9, n_generations)
    true_curve = (1.0 + np.arange(10)) ** -0.5
    rows = []
    for g in range(n_generations):
        # better generations land in higher slots: pooled view rates by slot are confounded
        scale = 4.0 * np.exp(-2.0 * (attractiveness[g] - 0.5))
        slots = np.minimum(rng.exponential(scale, 300).astype(int), 9)
        for slot in np.unique(slots):
            shown = int(np.sum(slots == slot))
            viewed = int(rng.binomial(shown, true_curve[slot] * attractiveness[g]))
            rows.append(
                {
                    "generation_id": f"g{g}",
                    "surface": "feed",
                    "position": int(slot),
                    "impressions": shown,
                    "views": viewed,
                }
            )
    return pl.DataFrame(rows), true_curve


def test_examination_curve_recovers_propensities_despite_ranking() -> None:
    positions, true_curve = ranked_feed(300, seed=1)
    pooled = examination_curve(positions, CurveShape(iterations=0))
    fitted = examination_curve(positions, CurveShape(iterations=30))
    truth = true_curve[:8]
    fitted_error = np.abs(fitted["propensity"].to_numpy()[:8] - truth).max()
    pooled_error = np.abs(pooled["propensity"].to_numpy()[:8] - truth).max()
    assert fitted["propensity"][0] == pytest.approx(1.0)
    assert fitted_error < 0.04
    assert pooled_error > 2 * fitted_error


def test_effective_impressions_weights_each_slot_by_its_propensity() -> None:
    curve = pl.DataFrame(
        {
            "surface": ["feed", "feed", "profile"],
            "position": [0, 1, -1],
            "propensity": [1.0, 0.5, 0.7],
        }
    )
    positions = pl.DataFrame(
        {
            "generation_id": ["a", "a", "a", "b"],
            "surface": ["feed", "feed", "profile", "search"],
            "position": [0, 1, -1, -1],
            "impressions": [10, 4, 10, 5],
            "views": [5, 1, 3, 2],
        }
    )
    effective = dict(
        effective_impressions(positions, curve)
        .select("generation_id", "effective_slotted")
        .iter_rows()
    )
    assert effective["a"] == pytest.approx(10 * 1.0 + 4 * 0.5 + 10 * 0.7)
    assert effective["b"] == pytest.approx(5.0)  # a slot the curve has not seen counts fully


def test_completion_quantile_is_relative_to_videos_of_similar_duration() -> None:
    """Short videos are finished more often; each video is placed within its own duration bucket."""
    completion = pl.DataFrame(
        {
            "duration_ms": [5_000] * 5 + [40_000] * 5,
            "completion": [0.6, 0.7, 0.8, 0.9, 1.0, 0.1, 0.2, 0.3, 0.4, 0.5],
        }
    )
    edges = duration_bucket_edges(completion["duration_ms"], 2)
    assert edges == [0, 5_001]
    grid = completion_quantile_grid(completion, edges, levels=4)
    probes = pl.DataFrame(
        {"duration_ms": [5_000, 40_000, 40_000, 5_000], "completion": [0.8, 0.5, 0.45, None]}
    )
    quantiles = completion_quantile(probes, grid).to_list()
    assert quantiles[0] == pytest.approx(0.5)  # the median short video
    assert quantiles[1] == pytest.approx(1.0)  # as finished as the best long one
    assert quantiles[2] == pytest.approx(0.875)
    assert quantiles[3] is None


def test_examination_stops_once_converged_at_the_same_curve() -> None:
    positions, _ = ranked_feed(200, seed=2)
    every_round = examination_curve(positions, CurveShape(iterations=60))
    early = examination_curve(positions, CurveShape(iterations=60, tolerance=1e-10))
    np.testing.assert_allclose(
        early["propensity"].to_numpy(), every_round["propensity"].to_numpy(), atol=1e-8
    )
    assert early.drop("propensity").equals(every_round.drop("propensity"))


def test_cells_in_any_order_with_or_without_an_index_give_the_same_curve_and_exposure() -> None:
    positions, _ = ranked_feed(100, seed=3)
    indexed = positions.with_columns(
        generation_index=pl.col("generation_id").rank("dense").cast(pl.Int32) - 1
    )
    shuffled = positions.sample(fraction=1.0, shuffle=True, seed=4)
    curves = [
        examination_curve(frame, CurveShape(iterations=20))
        for frame in (positions, indexed, shuffled)
    ]
    for curve in curves[1:]:
        np.testing.assert_allclose(
            curve["propensity"].to_numpy(), curves[0]["propensity"].to_numpy(), rtol=1e-12
        )
    exposures = [
        effective_impressions(frame, curves[0]).sort("generation_id")
        for frame in (positions, indexed, shuffled)
    ]
    for exposure in exposures[1:]:
        assert exposure["generation_id"].equals(exposures[0]["generation_id"])
        assert exposure["slotted_impressions"].equals(exposures[0]["slotted_impressions"])
        np.testing.assert_allclose(
            exposure["effective_slotted"].to_numpy(),
            exposures[0]["effective_slotted"].to_numpy(),
            rtol=1e-12,
        )
    by_hand = (
        positions.join(curves[0], on=["surface", "position"], suffix="_slot")
        .group_by("generation_id")
        .agg((pl.col("impressions") * pl.col("propensity")).sum().alias("effective"))
        .sort("generation_id")
    )
    np.testing.assert_allclose(
        exposures[0]["effective_slotted"].to_numpy(), by_hand["effective"].to_numpy(), rtol=1e-12
    )


def test_a_sparse_slot_cannot_swing_the_curve_and_the_curve_never_rises() -> None:
    """Slot 7 seen 3 times, all viewed: its raw propensity is far above its neighbours; shrunk toward the
    smooth shape it stays below slot 6, and no slot deeper in the feed is examined more."""
    positions, true_curve = ranked_feed(300, seed=5)
    thin = positions.filter(pl.col("position") != 7).vstack(
        pl.DataFrame(
            {
                "generation_id": ["g0"],
                "surface": ["feed"],
                "position": [7],
                "impressions": [3],
                "views": [3],
            }
        )
    )
    curve = examination_curve(thin, CurveShape(iterations=30))
    propensity = dict(curve.select("position", "propensity").iter_rows())
    assert propensity[7] <= propensity[6] + 1e-12
    assert propensity[7] == pytest.approx(true_curve[7], abs=0.06)
    values = curve.sort("position")["propensity"].to_numpy()
    assert np.all(np.diff(values) <= 1e-12)


def steep_feed_with_profile(n_generations: int, seed: int, profile_shown: int) -> pl.DataFrame:
    """A feed whose examination falls as exp(-0.3 position) (better videos ranked higher) and a profile
    page examined 0.8 as often as the top slot, each generation shown there `profile_shown` times."""
    rng = np.random.default_rng(seed)
    attractiveness = rng.uniform(0.1, 0.9, n_generations)
    rows = []
    for g in range(n_generations):
        scale = 4.0 * np.exp(-2.0 * (attractiveness[g] - 0.5))
        slots = np.minimum(rng.exponential(scale, 300).astype(int), 9)
        shown = {("feed", int(s)): int(np.sum(slots == s)) for s in np.unique(slots)}
        shown[("profile", -1)] = profile_shown
        for (surface, position), count in shown.items():
            examined = 0.8 if surface == "profile" else np.exp(-0.3 * position)
            views = int(rng.binomial(count, examined * attractiveness[g]))
            rows.append((f"g{g}", surface, position, count, views))
    return pl.DataFrame(
        rows,
        schema=["generation_id", "surface", "position", "impressions", "views"],
        orient="row",
    )


def test_a_well_shown_surface_off_the_feed_keeps_its_own_propensity() -> None:
    """The profile page is examined 0.8 as often as the top slot, far above the steep feed's average
    slot: with thousands of impressions it keeps its own value (it used to be pulled to that average)."""
    curve = examination_curve(steep_feed_with_profile(300, 3, 15), CurveShape(iterations=30))
    profile = curve.filter(surface="profile")["propensity"][0]
    assert profile == pytest.approx(0.8, abs=0.06)
    feed = curve.filter(surface="feed")
    feed_average = np.exp(np.average(np.log(feed["propensity"]), weights=feed["impressions"]))
    assert feed_average < 0.45


def test_surfaces_off_the_feed_shrink_by_the_feeds_own_spread() -> None:
    """Off the feed, a slot shrinks toward the feed's average with the feed's spread around it as the
    prior: a well-measured surface keeps its value, a thin one moves most of the way to the average,
    and a lone thin one far off cannot widen its own prior (the moments over it alone would keep it
    there)."""
    feed_positions = np.arange(6)
    impressions = np.array([4000.0, 3000.0, 2000.0, 1500.0, 1000.0, 800.0])
    views = np.array([2000.0, 900.0, 370.0, 170.0, 70.0, 33.0])

    def shrunk_with(extra: list[tuple[float, float, float]]) -> tuple[np.ndarray, float]:
        """(shrunk log propensities, the feed's average) with (impressions, views, raw) off the feed."""
        slots = SlotEstimates(
            on_feed=np.array([True] * 6 + [False] * len(extra)),
            position=np.concatenate([feed_positions, [-1] * len(extra)]),
            impressions=np.concatenate([impressions, [e[0] for e in extra]]),
            views=np.concatenate([views, [e[1] for e in extra]]),
            log_raw=np.concatenate([-0.5 * feed_positions, [e[2] for e in extra]]),
        )
        shrunk = shrunk_log_propensity(slots, degree=2, passes=5)
        return shrunk, float(np.average(shrunk[:6], weights=impressions))

    shrunk, centre = shrunk_with([(5.0, 1.0, -1.2), (3000.0, 1200.0, -0.2)])
    assert shrunk[7] == pytest.approx(-0.2, abs=0.01)
    assert abs(shrunk[6] - centre) < 0.5 * abs(-1.2 - centre)
    shrunk, centre = shrunk_with([(2.0, 0.0, -3.0)])
    kept = (shrunk[6] - centre) / (-3.0 - centre)
    alone = between_variance(np.array([-3.0 - centre]), np.array([1 / 0.5 + 1 / 2.0]))
    assert kept < 0.25 and alone / (alone + 2.5) > 0.45  # its own moments would keep about half
