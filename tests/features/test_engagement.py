"""Per-generation engagement from the clean per-cell sums the warehouse aggregates."""

from __future__ import annotations

import polars as pl
import pytest

from features.engagement import (
    CELL_COLUMNS,
    ENGAGEMENT_COLUMNS,
    FLOAT_COLUMNS,
    cells_summed,
    engagement_cells,
    generation_engagement,
)


def sums() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "generation_id": ["a", "a", "b"],
            "half": [0, 1, 1],
            "period": [0, 1, 0],
            "impressions": [10, 7, 3],
            "effective_impressions": [6.0, 3.5, 3.0],
            "views": [3, 1, 2],
            "watch_ms": [15_000, 5_000, 1_000],
            "ratio_sum": [1.5, 0.5, 0.25],
            "ratio_sq_sum": [1.0, 0.5, 0.05],
            "long_views": [1, 0, 0],
            "unlikes": [1, 0, 0],
            "shares": [1, 0, 0],
            "studio_impressions": [0, 1, 0],
            "selects": [0, 1, 0],
        }
    )


def test_cells_take_likes_net_in_their_period_and_generations_the_net_likes_of_the_window() -> None:
    """A viewer liked a in period 0 and unliked it in period 1: the early cell keeps the like, the
    generation's net likes do not."""
    likes = pl.DataFrame(
        {
            "generation_id": ["a", "a"],
            "half": [0, 1],
            "period": [0, 1],
            "likes": [2, 0],
            "net_likes": [1, 0],
        }
    )
    cells = engagement_cells(sums(), likes)
    assert tuple(cells.columns) == CELL_COLUMNS
    assert cells.select("generation_id", "half", "period", "likes").rows() == [
        ("a", 0, 0, 2),
        ("a", 1, 1, 0),
        ("b", 1, 0, 0),
    ]
    frame = generation_engagement(pl.Series(["a", "b", "quiet"]), cells)
    assert tuple(frame.columns) == ENGAGEMENT_COLUMNS
    a = frame.row(0, named=True)
    assert (a["impressions"], a["views"], a["watch_ms"], a["likes"], a["long_views"]) == (
        17,
        4,
        20_000,
        1,
        1,
    )
    assert (a["unlikes"], a["shares"], a["studio_impressions"], a["selects"], a["favorites"]) == (
        1,
        1,
        1,
        1,
        0,
    )
    assert a["effective_impressions"] == pytest.approx(9.5)
    assert a["ratio_sum"] == pytest.approx(2.0)
    quiet = frame.row(2, named=True)
    assert all(v == 0 for k, v in quiet.items() if k != "generation_id")
    assert all(frame.schema[c] == pl.Float64 for c in FLOAT_COLUMNS)
    assert frame.schema["impressions"] == pl.Int64


def test_a_part_of_the_cells_sums_to_one_row_per_generation_in_the_given_order() -> None:
    cells = engagement_cells(
        sums(),
        pl.DataFrame(
            schema={
                "generation_id": pl.String,
                "half": pl.Int32,
                "period": pl.Int32,
                "likes": pl.Int64,
                "net_likes": pl.Int64,
            }
        ),
    )
    half_b = cells_summed(cells, pl.col("half") == 1, pl.Series(["b", "a", "c"]))
    assert half_b["generation_id"].to_list() == ["b", "a", "c"]
    assert half_b["impressions"].to_list() == [3, 7, 0]
    assert half_b["selects"].to_list() == [0, 1, 0]


def test_a_half_counts_likes_net_over_the_window_and_a_period_net_within_it() -> None:
    """One viewer of half 0 liked in period 0 and unliked in period 1, another liked in period 1."""
    cells = engagement_cells(
        pl.DataFrame(
            {"generation_id": ["a", "a"], "half": [0, 0], "period": [0, 1], "impressions": [4, 4]}
        ),
        pl.DataFrame(
            {
                "generation_id": ["a", "a"],
                "half": [0, 0],
                "period": [0, 1],
                "likes": [1, 1],
                "net_likes": [0, 1],
            }
        ),
    )
    ids = pl.Series(["a"])
    half = cells_summed(cells, pl.col("half") == 0, ids, whole_window=True)
    early = cells_summed(cells, pl.col("period") == 0, ids)
    late = cells_summed(cells, pl.col("period") == 1, ids)
    assert half["likes"].to_list() == [1]
    assert (early["likes"].to_list(), late["likes"].to_list()) == ([1], [1])
    assert half["likes"].to_list() == generation_engagement(ids, cells)["likes"].to_list()
