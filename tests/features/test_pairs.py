"""Preference pairs from studio choices and sibling comparisons."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy.special import ndtr
from scipy.stats import multivariate_normal

from features.label_config import LabelConfig
from features.pairs import (
    RELIABILITY_SCHEMA,
    fit_studio_noise,
    pair_id,
    preference_pairs,
    studio_vote_confidence,
)

CONFIG = LabelConfig()


def sibling(
    generation_id: str,
    request: str,
    z: float,
    var: float,
    *,
    shown: int = 1,
    selects: int = 0,
    regenerates: int = 0,
) -> dict:
    return {
        "generation_id": generation_id,
        "request_id": request,
        "prompt": f"prompt {request}",
        "quality_z": z,
        "quality_z_var": var,
        "studio_impressions": shown,
        "selects": selects,
        "regenerates": regenerates,
    }


def noise(select: float, regenerate: float) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "source": "select",
                "votes": 10,
                "agreements": 8,
                "disagreements": 2,
                "noise_sd": select,
            },
            {
                "source": "regenerate",
                "votes": 10,
                "agreements": 8,
                "disagreements": 2,
                "noise_sd": regenerate,
            },
        ],
        schema=RELIABILITY_SCHEMA,
    )


def test_studio_vote_confidence_matches_the_bivariate_normal_and_its_limits() -> None:
    gap, sd, s = np.array([-0.8, 0.0, 0.5]), np.array([0.6, 0.5, 1.0]), 0.7
    got = studio_vote_confidence(gap, sd, s)
    for g, d, value in zip(gap, sd, got, strict=True):
        # P(Delta > 0 and Delta + s * eps > 0) / P(Delta + s * eps > 0), Delta ~ N(g, d^2)
        cov = [[d * d, d * d], [d * d, d * d + s * s]]
        joint = multivariate_normal(mean=[-g, -g], cov=cov).cdf([0.0, 0.0])
        marginal = 1.0 - multivariate_normal(mean=[g], cov=[[d * d + s * s]]).cdf([0.0])
        assert value == pytest.approx(joint / marginal, abs=1e-6)
    assert studio_vote_confidence(gap, sd, 1e6) == pytest.approx(
        ndtr(gap / sd), abs=1e-6
    )  # useless votes
    assert studio_vote_confidence(gap, sd, 1e-6) == pytest.approx(
        np.ones(3), abs=1e-4
    )  # perfect votes


def test_fit_studio_noise_recovers_the_choice_noise() -> None:
    rng = np.random.default_rng(0)
    true_gap = rng.normal(0, 1.5, 5000)
    sd = np.full(true_gap.size, 0.3)
    observed_gap = true_gap + rng.normal(0, 0.3, true_gap.size)
    picks_first = true_gap + rng.normal(0, 0.8, true_gap.size) > 0
    winner_gap = np.where(picks_first, observed_gap, -observed_gap)
    assert fit_studio_noise(winner_gap, sd, (0.01, 100.0)) == pytest.approx(0.8, rel=0.1)


def test_select_regenerate_and_sibling_pairs() -> None:
    siblings = pl.DataFrame(
        [
            sibling("kept", "r1", 0.2, 0.3, selects=1),
            sibling("passed_over", "r1", 0.1, 0.3),
            sibling("not_shown", "r1", -0.1, 0.3, shown=0),
            sibling("fine", "r2", 0.0, 0.2),
            sibling("rerolled", "r2", -0.3, 0.2, regenerates=1),
            sibling("clear_winner", "r3", 2.0, 0.05),
            sibling("clear_loser", "r3", -1.0, 0.05),
            sibling("coin_a", "r4", 0.10, 0.5),
            sibling("coin_b", "r4", 0.05, 0.5),
        ]
    )
    pairs = preference_pairs(siblings, noise(0.5, 0.8), CONFIG, "lv-test")
    found = {
        (row["source"], row["chosen_generation_id"], row["rejected_generation_id"])
        for row in pairs.iter_rows(named=True)
    }
    assert ("select", "kept", "passed_over") in found
    assert not any(
        r == "not_shown" for s, _, r in found if s == "select"
    )  # never compared in the studio
    assert ("regenerate", "fine", "rerolled") in found
    assert ("sibling", "clear_winner", "clear_loser") in found
    assert not any(
        "coin_a" in (c, r) or "coin_b" in (c, r) for _, c, r in found
    )  # a tie gives no pair
    assert (
        pairs.select((pl.col("confidence") > 0.5) & (pl.col("confidence") <= CONFIG.confidence_cap))
        .to_series()
        .all()
    )
    assert set(pairs["prompt"]) <= {"prompt r1", "prompt r2", "prompt r3"}
    row = pairs.filter(pl.col("source") == "select").row(0, named=True)
    assert row["pair_id"] == pair_id(
        "r1", row["chosen_generation_id"], row["rejected_generation_id"], "select"
    )


def test_a_vote_the_feed_strongly_contradicts_is_dropped() -> None:
    siblings = pl.DataFrame(
        [sibling("picked", "r1", -2.0, 0.05, selects=1), sibling("better", "r1", 2.0, 0.05)]
    )
    pairs = preference_pairs(siblings, noise(0.5, 0.5), CONFIG, "lv-test")
    assert pairs.filter(pl.col("source") == "select").is_empty()
    assert pairs.filter(pl.col("source") == "sibling")["chosen_generation_id"].to_list() == [
        "better"
    ]


def test_pair_ids_are_deterministic_and_distinct_per_source() -> None:
    assert pair_id("r", "a", "b", "select") == pair_id("r", "a", "b", "select")
    assert pair_id("r", "a", "b", "select") != pair_id("r", "a", "b", "sibling")
    assert pair_id("r", "a", "b", "select") != pair_id("r", "b", "a", "select")


def test_pairs_of_many_requests_match_a_pair_by_pair_reading() -> None:
    rng = np.random.default_rng(11)
    rows = []
    for r in range(80):
        for g in range(int(rng.integers(1, 5))):
            shown = int(rng.integers(0, 2))
            rows.append(
                sibling(
                    f"g{rng.integers(1_000_000):06d}_{r}_{g}",
                    f"r{r:02d}",
                    float(rng.normal(0.0, 1.5)),
                    float(rng.uniform(0.01, 0.5)),
                    shown=shown,
                    selects=int(shown and rng.random() < 0.3),
                    regenerates=int(shown and rng.random() < 0.2),
                )
                | {"prompt": f"prompt {r} {g}"}
            )
    siblings = pl.DataFrame(rows).sample(fraction=1.0, shuffle=True, seed=0)
    reliability = noise(0.6, 0.9)
    pairs = preference_pairs(siblings, reliability, CONFIG, "lv-test")

    expected = {}
    by_request: dict[str, list[dict]] = {}
    for row in rows:
        by_request.setdefault(row["request_id"], []).append(row)
    for request, members in by_request.items():
        members = sorted(members, key=lambda m: m["generation_id"])
        prompt = members[0]["prompt"]
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                p = float(
                    ndtr(
                        (a["quality_z"] - b["quality_z"])
                        / np.sqrt(a["quality_z_var"] + b["quality_z_var"])
                    )
                )
                if p >= CONFIG.sibling_min_probability:
                    expected[(a["generation_id"], b["generation_id"], "sibling")] = (
                        p,
                        prompt,
                        request,
                    )
                elif p <= 1.0 - CONFIG.sibling_min_probability:
                    expected[(b["generation_id"], a["generation_id"], "sibling")] = (
                        1 - p,
                        prompt,
                        request,
                    )
                for winner, loser in ((a, b), (b, a)):
                    gap = np.array([winner["quality_z"] - loser["quality_z"]])
                    sd = np.sqrt(np.array([winner["quality_z_var"] + loser["quality_z_var"]]))
                    votes = {
                        "select": winner["selects"] > 0
                        and loser["selects"] == 0
                        and loser["studio_impressions"] > 0,
                        "regenerate": loser["regenerates"] > 0
                        and winner["regenerates"] == 0
                        and winner["studio_impressions"] > 0,
                    }
                    for source, voted in votes.items():
                        sd_noise = 0.6 if source == "select" else 0.9
                        confidence = float(studio_vote_confidence(gap, sd, sd_noise)[0])
                        if voted and confidence >= CONFIG.studio_min_confidence:
                            expected[(winner["generation_id"], loser["generation_id"], source)] = (
                                confidence,
                                prompt,
                                request,
                            )

    assert pairs["pair_id"].is_sorted()
    got = {
        (row["chosen_generation_id"], row["rejected_generation_id"], row["source"]): row
        for row in pairs.iter_rows(named=True)
    }
    assert set(got) == set(expected)
    assert any(source == "select" for _, _, source in got) and any(
        source == "regenerate" for _, _, source in got
    )
    for key, (confidence, prompt, request) in expected.items():
        row = got[key]
        assert row["confidence"] == pytest.approx(min(confidence, CONFIG.confidence_cap), abs=1e-9)
        assert (row["prompt"], row["request_id"]) == (prompt, request)
        assert row["pair_id"] == pair_id(request, key[0], key[1], key[2])
