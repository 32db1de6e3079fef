"""Per-generation engagement and exposure slots from clean event cells."""

from __future__ import annotations

import polars as pl
import pytest

from features.engagement import exposure_slots, generation_engagement


def cells() -> pl.DataFrame:
    columns = [
        "generation_id",
        "surface",
        "position",
        "impressions",
        "views",
        "watch_ms",
        "ratio_sum",
        "ratio_sq_sum",
        "unlikes",
        "favorites",
        "shares",
        "comments",
        "downloads",
        "dislikes",
        "reports",
        "selects",
        "regenerates",
    ]
    rows = [
        # one row per (generation, surface, position); a like at the feed without a slot impression stays out of slots
        ("a", "feed", 0, 10, 4, 20_000, 2.0, 1.5, 0, 0, 0, 0, 0, 0, 0, 0, 0),
        ("a", "feed", 3, 5, 0, 0, 0.0, 0.0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
        ("a", "feed", -1, 0, 0, 0, 0.0, 0.0, 1, 0, 0, 0, 0, 0, 0, 0, 0),
        ("a", "profile", -1, 2, 0, 0, 0.0, 0.0, 0, 0, 1, 0, 0, 0, 0, 0, 0),
        ("a", "studio", -1, 1, 1, 9_000, 0.9, 0.81, 0, 0, 0, 0, 0, 0, 0, 1, 0),
    ]
    return pl.DataFrame(rows, schema=columns, orient="row")


def test_generation_engagement_counts_organic_and_studio_events_apart() -> None:
    net_likes = pl.DataFrame({"generation_id": ["a"], "likes": [2]})
    frame = generation_engagement(pl.Series(["a", "quiet"]), cells(), net_likes)
    a = frame.filter(pl.col("generation_id") == "a").row(0, named=True)
    assert (a["impressions"], a["views"], a["watch_ms"], a["likes"], a["unlikes"], a["shares"]) == (
        17,
        4,
        20_000,
        2,
        1,
        1,
    )
    assert (a["studio_impressions"], a["selects"], a["regenerates"]) == (1, 1, 0)
    assert a["ratio_sum"] == pytest.approx(2.0)  # the studio view is not a feed view
    quiet = frame.filter(pl.col("generation_id") == "quiet").row(0, named=True)
    assert all(v == 0 for k, v in quiet.items() if k != "generation_id")


def test_exposure_slots_pair_impressions_and_views_of_organic_slots() -> None:
    slots = exposure_slots(cells()).sort("surface", "position")
    assert slots.select("surface", "position", "impressions", "views").rows() == [
        ("feed", 0, 10, 4),
        ("feed", 3, 5, 0),
        ("profile", -1, 2, 0),
    ]
