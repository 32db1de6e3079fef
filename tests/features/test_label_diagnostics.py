"""Truth-free checks of a label run: split-half reliability, temporal validity, studio agreement, each
beside every raw rate, and the verdict."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from features.label_config import LabelConfig
from features.label_diagnostics import (
    LABEL_SCORE,
    StudioChoices,
    _agreement,
    _verdict,
    sampled_frames,
    spearman,
)
from features.label_pipeline import compute_label_outputs
from features.labels import LabelFrames
from features.stable_keys import stable_sample
from tests.features.label_world import population


def test_spearman_ranks_with_ties_and_needs_three_generations() -> None:
    assert spearman(
        np.array([1.0, 2.0, 3.0, 4.0]), np.array([10.0, 20.0, 30.0, 45.0])
    ) == pytest.approx(1.0)
    assert spearman(np.array([1.0, 2.0, 3.0]), np.array([3.0, 2.0, 1.0])) == pytest.approx(-1.0)
    assert spearman(np.array([1.0, 2.0]), np.array([1.0, 2.0])) is None
    assert spearman(np.array([1.0, 1.0, 1.0]), np.array([1.0, 2.0, 3.0])) is None


def test_studio_agreement_counts_ties_as_half() -> None:
    values = np.array([3.0, 1.0, 2.0, 2.0])
    choices = StudioChoices(winner=np.array([0, 1, 2]), loser=np.array([1, 0, 3]))
    assert _agreement(values, choices) == pytest.approx((1 + 0 + 0.5) / 3)
    assert _agreement(values, StudioChoices(np.array([], int), np.array([], int))) is None


def rows(label: tuple, *raws: tuple) -> list[dict]:
    names = ("split_half", "temporal", "studio_agreement")
    return [{"score": LABEL_SCORE, **dict(zip(names, label, strict=True))}] + [
        {"score": f"raw{i}", **dict(zip(names, raw, strict=True))} for i, raw in enumerate(raws)
    ]


def test_the_verdict_names_each_check_the_label_loses() -> None:
    assert _verdict(rows((0.8, 0.7, None), (0.6, 0.5, None), (0.7, 0.6, None))) == (True, None)
    beaten, warning = _verdict(rows((0.8, 0.5, 0.9), (0.6, 0.65, 0.7), (0.85, 0.4, None)))
    assert beaten is False
    assert warning == (
        "labels do worse than a raw rate on split-half reliability 0.800 vs raw1 0.850; "
        "temporal validity 0.500 vs raw0 0.650"
    )
    assert _verdict(rows((None, None, None), (0.6, 0.5, 0.4))) == (None, None)


def test_a_run_reports_every_check_for_the_label_and_each_raw_rate() -> None:
    engagement, cells = population(n=300, seed=2).frames()
    diagnostics = compute_label_outputs(engagement, cells, None, None, LabelConfig()).diagnostics
    assert diagnostics["score"][0] == LABEL_SCORE
    scores = set(diagnostics["score"])
    assert {"view", "completion", "like", "naive_view_rate", "naive_like_rate"} <= scores
    label = diagnostics.row(0, named=True)
    assert label["split_half_generations"] > 250 and label["temporal_generations"] > 250
    assert label["studio_votes"] == 0 and label["studio_agreement"] is None
    best_raw = diagnostics.filter(pl.col("kind") != "label")["split_half"].max()
    assert label["split_half"] > best_raw and label["beats_best_raw"] is True
    assert label["warning"] is None
    signals = diagnostics.filter(pl.col("kind") == "signal")
    assert signals["weight"].sum() == pytest.approx(1.0)
    assert signals["loading"].null_count() == 0


def test_diagnostics_sample_a_fixed_subset_of_generations_whatever_their_order() -> None:
    ids = [f"g{i:03d}" for i in range(200)]
    frame = pl.DataFrame({"generation_id": ids, "impressions": list(range(200))})
    frames = LabelFrames(frame, frame, frame, frame, frame)
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=1)
    kept = sampled_frames(frames, stable_sample(ids, 50))
    again = sampled_frames(
        LabelFrames(*(shuffled,) * 5), stable_sample(shuffled["generation_id"].to_list(), 50)
    )
    assert kept.full.height == 50
    assert sorted(kept.full["generation_id"]) == sorted(again.full["generation_id"])
    assert kept.half_a["generation_id"].to_list() == kept.full["generation_id"].to_list()
    assert sampled_frames(frames, stable_sample(ids, 500)) is frames
