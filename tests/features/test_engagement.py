"""Per-generation engagement from the clean sums the warehouse aggregates."""

from __future__ import annotations

import polars as pl
import pytest

from features.engagement import ENGAGEMENT_COLUMNS, FLOAT_COLUMNS, generation_engagement


def test_generation_engagement_fills_zeros_and_takes_likes_from_net_likes() -> None:
    sums = pl.DataFrame(
        {
            "generation_id": ["a"],
            "impressions": [17],
            "effective_impressions": [9.5],
            "views": [4],
            "watch_ms": [20_000],
            "ratio_sum": [2.0],
            "ratio_sq_sum": [1.5],
            "unlikes": [1],
            "shares": [1],
            "studio_impressions": [1],
            "selects": [1],
        }
    )
    net_likes = pl.DataFrame({"generation_id": ["a"], "likes": [2]})
    frame = generation_engagement(pl.Series(["a", "quiet"]), sums, net_likes)
    assert tuple(frame.columns) == ENGAGEMENT_COLUMNS
    a = frame.filter(pl.col("generation_id") == "a").row(0, named=True)
    assert (a["impressions"], a["views"], a["watch_ms"], a["likes"], a["unlikes"], a["shares"]) == (
        17,
        4,
        20_000,
        2,
        1,
        1,
    )
    assert (a["studio_impressions"], a["selects"], a["regenerates"], a["favorites"]) == (1, 1, 0, 0)
    assert a["effective_impressions"] == pytest.approx(9.5)
    quiet = frame.filter(pl.col("generation_id") == "quiet").row(0, named=True)
    assert all(v == 0 for k, v in quiet.items() if k != "generation_id")
    assert all(frame.schema[c] == pl.Float64 for c in FLOAT_COLUMNS)
    assert frame.schema["impressions"] == pl.Int64
