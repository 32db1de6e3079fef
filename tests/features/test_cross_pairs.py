"""Pairs across requests for generations without siblings (a real feed log)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from features.cross_pairs import cross_pairs
from features.label_config import LabelConfig

T0 = datetime(2022, 4, 25, tzinfo=UTC)
CONFIG = LabelConfig(cross_partners=4)


def singles(n: int, day: int, spread: float = 1.0) -> list[dict]:
    """`n` generations alone in their request, created on `day`, quality_z spread evenly."""
    return [
        {
            "generation_id": f"d{day}-g{i:03d}",
            "request_id": f"d{day}-r{i:03d}",
            "prompt": f"video {day}-{i}",
            "created_at": T0 + timedelta(days=day, minutes=i),
            "quality_z": spread * (i - n / 2) / n * 6,
            "quality_z_var": 0.05,
            "studio_impressions": 0,
            "selects": 0,
            "regenerates": 0,
        }
        for i in range(n)
    ]


def frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows).sort("generation_id")


def test_cross_pairs_stay_within_a_window_are_confident_bounded_and_point_to_the_better() -> None:
    rows = singles(40, 0) + singles(30, 1)
    siblings = frame(rows)
    pairs = cross_pairs(siblings, CONFIG, "lv-test")
    assert pairs.height > 0
    assert set(pairs["source"]) == {"cross"}
    assert pairs["confidence"].min() >= CONFIG.sibling_min_probability
    z = dict(siblings.select("generation_id", "quality_z").iter_rows())
    assert all(
        z[c] > z[r]
        for c, r in pairs.select("chosen_generation_id", "rejected_generation_id").iter_rows()
    )
    day = pl.col("chosen_generation_id").str.slice(0, 2) == pl.col(
        "rejected_generation_id"
    ).str.slice(0, 2)
    assert pairs.select(day.all()).item()
    members = pl.concat([pairs["chosen_generation_id"], pairs["rejected_generation_id"]])
    assert members.value_counts()["count"].max() <= 2 * CONFIG.cross_partners
    assert pairs["pair_id"].n_unique() == pairs.height


def test_the_pair_belongs_to_the_request_of_its_later_member_and_takes_its_prompt() -> None:
    pairs = cross_pairs(frame(singles(40, 0)), CONFIG, "lv-test")
    for chosen, rejected, request, prompt in pairs.select(
        "chosen_generation_id", "rejected_generation_id", "request_id", "prompt"
    ).iter_rows():
        later = max(chosen, rejected)  # ids and creation times rise together here
        assert request == later.replace("-g", "-r")
        assert prompt == f"video 0-{int(later[-3:])}"


def test_siblings_and_studio_generations_get_no_cross_pairs_and_the_output_is_deterministic() -> (
    None
):
    rows = singles(20, 0)
    rows[0]["request_id"] = rows[1]["request_id"]  # two siblings
    rows[2]["studio_impressions"] = 1
    siblings = frame(rows)
    pairs = cross_pairs(siblings, CONFIG, "lv-test")
    excluded = {rows[0]["generation_id"], rows[1]["generation_id"], rows[2]["generation_id"]}
    members = set(pairs["chosen_generation_id"]) | set(pairs["rejected_generation_id"])
    assert not members & excluded
    shuffled = siblings.sample(fraction=1.0, shuffle=True, seed=1).sort("generation_id")
    assert cross_pairs(shuffled, CONFIG, "lv-test").equals(pairs)


def test_close_qualities_give_no_pair_and_no_partners_give_no_pairs() -> None:
    assert cross_pairs(frame(singles(30, 0, spread=0.01)), CONFIG, "lv-test").is_empty()
    none = LabelConfig(cross_partners=0)
    assert cross_pairs(frame(singles(30, 0)), none, "lv-test").is_empty()
