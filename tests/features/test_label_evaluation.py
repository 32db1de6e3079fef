"""Metrics of label quality against a known truth."""

from __future__ import annotations

import polars as pl
import pytest

from features.label_evaluation import format_table, pair_agreement, rank_agreement, spearman


def test_spearman_ignores_missing_rows_and_needs_three() -> None:
    frame = pl.DataFrame({"x": [1.0, 2.0, 3.0, None], "y": [10.0, 30.0, 20.0, 5.0]})
    assert spearman(frame, "x", "y") == pytest.approx(0.5)
    assert spearman(frame.head(2), "x", "y") is None


def test_rank_agreement_compares_score_and_naive_rates_per_scope() -> None:
    labels = pl.DataFrame(
        {
            "generation_id": ["a", "b", "c", "d"],
            "impressions": [100, 50, 40, 2],
            "quality_score": [0.9, 0.6, 0.3, 0.1],
        }
    )
    naive = pl.DataFrame(
        {
            "generation_id": ["a", "b", "c", "d"],
            "naive_like_rate": [0.1, 0.3, 0.2, 0.5],
            "naive_view_rate": [0.5, 0.4, 0.3, 0.9],
        }
    )
    truth = pl.DataFrame(
        {"generation_id": ["a", "b", "c", "d"], "true_quality": [0.8, 0.7, 0.4, 0.2]}
    )
    table = rank_agreement(labels, naive, truth, min_impressions=30)
    got = {
        (r["score"], r["scope"]): (r["generations"], r["spearman"])
        for r in table.iter_rows(named=True)
    }
    assert got[("quality_score", "all generations")] == (4, pytest.approx(1.0))
    assert got[("quality_score", ">= 30 feed impressions")] == (3, pytest.approx(1.0))
    assert got[("naive_like_rate", ">= 30 feed impressions")][1] == pytest.approx(-0.5)
    assert got[("naive_view_rate", ">= 30 feed impressions")][1] == pytest.approx(1.0)


def test_pair_agreement_by_band_and_source() -> None:
    truth = pl.DataFrame({"generation_id": ["a", "b", "c"], "true_quality": [0.9, 0.5, 0.1]})
    pairs = pl.DataFrame(
        {
            "chosen_generation_id": ["a", "b", "c", "a"],
            "rejected_generation_id": ["b", "c", "a", "x"],
            "source": ["select", "sibling", "sibling", "sibling"],
            "confidence": [0.95, 1.0, 0.6, 0.99],
        }
    )
    table = pair_agreement(pairs, truth)
    got = {
        (r["source"], r["band"]): (r["pairs"], r["truly_better"])
        for r in table.iter_rows(named=True)
    }
    assert got[("all", "[0.90, 1.00]")] == (2, 1.0)  # the pair with unknown 'x' is left out
    assert got[("sibling", "[0.50, 0.70)")] == (1, 0.0)
    assert "select" in format_table(table)
