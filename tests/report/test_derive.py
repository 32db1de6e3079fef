"""Derivations from the report views' frames (their results on a tiny warehouse's views are tested in
tests/warehouse/test_report_views.py): the weakest n-grams without filler or repeats, ranked by quality
relative to the serving version."""

from __future__ import annotations

import polars as pl
import pytest

from report.config import ReportConfig
from report.derive import weakest_distinct_ngrams


def ngram_frame(rows: list[tuple[str, int, float, float]]) -> pl.DataFrame:
    """(ngram, generations, mean_quality, mean_adjusted) rows; spreads fixed at 0.2."""
    return pl.DataFrame(
        {
            "ngram": [r[0] for r in rows],
            "ngram_words": [len(r[0].split(" ")) for r in rows],
            "generations": [r[1] for r in rows],
            "mean_quality": [r[2] for r in rows],
            "sd_quality": [0.2] * len(rows),
            "mean_adjusted": [r[3] for r in rows],
            "sd_adjusted": [0.2] * len(rows),
        }
    )


def test_ngrams_are_ranked_by_version_adjusted_quality_above_the_count_threshold() -> None:
    ngrams = ngram_frame(
        [
            ("rare", 3, 0.05, -0.5),
            ("weak", 50, 0.3, -0.2),
            ("served", 80, 0.2, 0.05),  # low raw mean, but only because a weak version served it
            ("fine", 80, 0.6, 0.1),
            ("weak pair", 40, 0.2, -0.1),
        ]
    )
    unigrams, bigrams = weakest_distinct_ngrams(ngrams, ReportConfig(ngram_min_generations=30))
    assert unigrams["ngram"].to_list() == ["weak", "served", "fine"]
    assert unigrams["adjusted_ci_high"][0] > -0.2 > unigrams["adjusted_ci_low"][0]
    assert unigrams["ci_high"][0] > 0.3 > unigrams["ci_low"][0]
    assert bigrams["ngram"].to_list() == []  # "weak pair" repeats the weaker "weak"


def test_filler_words_fragments_and_repeats_are_left_out() -> None:
    ngrams = ngram_frame(
        [
            ("of the", 90, 0.1, -0.40),
            ("of", 90, 0.1, -0.39),
            ("up", 90, 0.1, -0.38),
            ("30", 90, 0.1, -0.37),
            ("neon sign", 60, 0.2, -0.30),
            ("sign", 70, 0.2, -0.29),
            ("neon", 60, 0.2, -0.28),
            ("sign says", 60, 0.2, -0.27),
            ("storefront", 40, 0.25, -0.20),
            ("banner", 40, 0.25, -0.20),  # the same 40 generations as "storefront": listed once
            ("a banner", 40, 0.25, -0.20),
            ("rainy street", 35, 0.3, -0.10),
            ("rain", 50, 0.3, -0.05),
        ]
    )
    unigrams, bigrams = weakest_distinct_ngrams(ngrams, ReportConfig(ngram_min_generations=30))
    assert unigrams["ngram"].to_list() == ["banner", "rain"]  # ties: in text order
    assert bigrams["ngram"].to_list() == ["neon sign", "rainy street"]
    capped, _ = weakest_distinct_ngrams(
        ngrams, ReportConfig(ngram_min_generations=30, ngram_rows=1)
    )
    assert capped["ngram"].to_list() == ["banner"]


@pytest.mark.parametrize("min_chars", [3, 5])
def test_fragment_length_is_a_setting(min_chars: int) -> None:
    ngrams = ngram_frame([("cat", 40, 0.2, -0.2), ("whale", 40, 0.3, -0.1)])
    unigrams, _ = weakest_distinct_ngrams(
        ngrams, ReportConfig(ngram_min_generations=30, ngram_min_word_chars=min_chars)
    )
    assert unigrams["ngram"].to_list() == (["cat", "whale"] if min_chars == 3 else ["whale"])
