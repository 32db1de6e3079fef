"""Merging preference evidence into one row per unordered pair: the combined confidence pinned on tiny
frames, the direction, contradictions, and ids that do not depend on row order."""

from __future__ import annotations

import math

import polars as pl
import pytest

from features.pair_merging import EVIDENCE_SCHEMA, MergeRule, merge_evidence


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def evidence(*rows: tuple[str, str, str, float], request: str = "r1") -> pl.DataFrame:
    """(chosen, rejected, source, confidence) rows of one request."""
    return pl.DataFrame(
        [
            {
                "pair_id": f"{request}-{chosen}{rejected}-{source}",
                "request_id": request,
                "prompt": "a red fox",
                "chosen_generation_id": chosen,
                "rejected_generation_id": rejected,
                "source": source,
                "confidence": confidence,
                "label_version": "lv1",
            }
            for chosen, rejected, source, confidence in rows
        ],
        schema=EVIDENCE_SCHEMA,
    )


def merged_row(frame: pl.DataFrame, rule: MergeRule | None = None) -> dict:
    merged = merge_evidence(frame, rule or MergeRule())
    assert merged.height == 1
    return merged.row(0, named=True)


def test_a_single_source_keeps_its_confidence_and_direction() -> None:
    row = merged_row(evidence(("b", "a", "select", 0.8)))
    assert (row["chosen_generation_id"], row["rejected_generation_id"]) == ("b", "a")
    assert row["confidence"] == pytest.approx(0.8)
    assert row["sources"] == ["select"] and row["evidence_rows"] == 1
    assert row["contradiction"] == 0.0 and not row["contradictory"]


def test_the_feed_counts_once_when_studio_votes_join_it() -> None:
    # a studio confidence already includes the feed posterior: L = L_feed + sum(L_studio - L_feed)
    row = merged_row(
        evidence(
            ("a", "b", "sibling", 0.95), ("a", "b", "select", 0.97), ("a", "b", "regenerate", 0.96)
        )
    )
    expected = sigmoid(logit(0.95) + (logit(0.97) - logit(0.95)) + (logit(0.96) - logit(0.95)))
    assert row["confidence"] == pytest.approx(expected, abs=1e-9)
    assert row["confidence"] == pytest.approx(0.976101, abs=1e-6)
    assert row["sources"] == ["regenerate", "select", "sibling"] and row["evidence_rows"] == 3
    # one studio vote beside the feed: the vote's posterior, not the feed counted twice
    assert merged_row(evidence(("a", "b", "sibling", 0.95), ("a", "b", "select", 0.97)))[
        "confidence"
    ] == pytest.approx(0.97)


def test_studio_votes_without_a_feed_row_add_in_log_odds() -> None:
    row = merged_row(evidence(("a", "b", "select", 0.8), ("a", "b", "regenerate", 0.7)))
    assert row["confidence"] == pytest.approx(sigmoid(logit(0.8) + logit(0.7)))  # 0.903226
    assert row["confidence"] == pytest.approx(0.903226, abs=1e-6)


def test_the_combined_confidence_is_capped() -> None:
    row = merged_row(evidence(("a", "b", "select", 0.999), ("a", "b", "regenerate", 0.999)))
    assert row["confidence"] == pytest.approx(0.999)


def test_weak_opposing_evidence_lowers_confidence_strong_opposing_evidence_drops_the_pair() -> None:
    weak = merged_row(evidence(("a", "b", "select", 0.9), ("b", "a", "regenerate", 0.6)))
    assert (weak["chosen_generation_id"], weak["confidence"]) == (
        "a",
        pytest.approx(sigmoid(logit(0.9) - logit(0.6))),
    )
    assert weak["contradiction"] == pytest.approx(0.6) and not weak["contradictory"]
    strong = merged_row(evidence(("a", "b", "select", 0.9), ("b", "a", "regenerate", 0.8)))
    assert strong["contradiction"] == pytest.approx(0.8) and strong["contradictory"]
    lenient = merged_row(
        evidence(("a", "b", "select", 0.9), ("b", "a", "regenerate", 0.8)),
        MergeRule(max_contradiction=0.85),
    )
    assert not lenient["contradictory"]
    cancelled = merged_row(evidence(("a", "b", "select", 0.7), ("b", "a", "regenerate", 0.7)))
    assert cancelled["contradictory"] and cancelled["confidence"] == pytest.approx(0.5)


def test_one_row_per_unordered_pair_whatever_the_row_order_and_ids_are_direction_free() -> None:
    frame = evidence(
        ("a", "b", "select", 0.9),
        ("b", "c", "sibling", 0.92),
        ("a", "b", "sibling", 0.93),
        ("c", "a", "regenerate", 0.7),
    )
    merged = merge_evidence(frame, MergeRule()).sort("pair_id")
    shuffled = merge_evidence(frame.reverse(), MergeRule()).sort("pair_id")
    assert merged.equals(shuffled)
    unordered = {frozenset(p) for p in merged.select("first_id", "second_id").rows()}
    assert len(unordered) == merged.height == 3
    flipped = merge_evidence(evidence(("b", "a", "select", 0.6)), MergeRule())
    same_pair = merge_evidence(evidence(("a", "b", "select", 0.6)), MergeRule())
    assert flipped["pair_id"].to_list() == same_pair["pair_id"].to_list()
    assert merged.filter(pl.col("first_id") == "a", pl.col("second_id") == "b")[
        "source_pair_ids"
    ].to_list() == [["r1-ab-select", "r1-ab-sibling"]]


def test_pairs_of_different_requests_never_merge() -> None:
    frame = pl.concat(
        [
            evidence(("a", "b", "select", 0.8), request="r1"),
            evidence(("a", "b", "select", 0.8), request="r2"),
        ]
    )
    assert merge_evidence(frame, MergeRule()).height == 2


def test_rule_rejects_out_of_range_thresholds() -> None:
    with pytest.raises(ValueError, match="max-contradiction"):
        MergeRule(max_contradiction=0.3)
