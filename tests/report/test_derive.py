"""Derivations from the report views' frames (their results on a tiny warehouse's views are tested in
tests/warehouse/test_report_views.py)."""

from __future__ import annotations

import polars as pl

from report.derive import weakest_ngrams


def test_weakest_ngrams_apply_the_count_threshold() -> None:
    ngrams = pl.DataFrame(
        {
            "ngram": ["rare", "weak", "fine", "weak pair"],
            "ngram_words": [1, 1, 1, 2],
            "generations": [3, 50, 80, 40],
            "mean_quality": [0.05, 0.3, 0.6, 0.2],
            "sd_quality": [0.1, 0.2, 0.2, 0.1],
        }
    )
    got = weakest_ngrams(ngrams, 1, min_generations=30, rows=5, confidence=0.95)
    assert got["ngram"].to_list() == ["weak", "fine"]
    assert got["ci_high"][0] > 0.3 > got["ci_low"][0]
