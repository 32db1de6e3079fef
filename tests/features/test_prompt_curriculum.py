"""The prompt curriculum on tiny frames: clusters of near-identical prompts, the version-adjusted deficit
and its lower bound as priority, per-version predictions, and the prompt-text rules behind them."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import polars as pl
import pytest

from features.export_schema import PROMPTS_SCHEMA
from features.prompt_curriculum import PriorityRule, prompt_curriculum
from features.prompt_text import content_words, is_filler_word, prompt_cluster_ids, prompt_text_key

CANDIDATE_SCHEMA = {
    "generation_id": pl.String,
    "request_id": pl.String,
    "prompt": pl.String,
    "model_version": pl.String,
    "duration_ms": pl.Int64,
    "width": pl.Int32,
    "height": pl.Int32,
    "fps": pl.Float64,
    "quality_score": pl.Float64,
    "label": pl.String,
    "exclusion_reason": pl.String,
}


def generation(
    gid: str,
    prompt: str,
    version: str,
    quality: float,
    reason: str | None = None,
    duration_ms: int = 5000,
) -> dict:
    label = "good" if quality >= 0.6 else "bad" if quality <= 0.4 else "uncertain"
    return {
        "generation_id": gid,
        "request_id": f"req-{gid}",
        "prompt": prompt,
        "model_version": version,
        "duration_ms": duration_ms,
        "width": 1280 if version == "m1" else 720,
        "height": 720 if version == "m1" else 1280,
        "fps": 24.0,
        "quality_score": quality,
        "label": label,
        "exclusion_reason": reason,
    }


def candidates() -> pl.DataFrame:
    """m1 is strong and m2 weak; the sign prompt is weak under m1 with plenty of evidence; the fox
    prompt only met m2 and does as m2 usually does; the whale prompt is weak on one generation."""
    noise = (-0.2, 0.2)  # alternating, so every group has a spread
    rows = [generation(f"m1-{i}", f"a calm lake {i}", "m1", 0.7 + noise[i % 2]) for i in range(8)]
    rows += [
        generation(f"m2-{i}", f"a quiet street {i}", "m2", 0.4 + noise[i % 2]) for i in range(6)
    ]
    rows += [
        generation(
            f"sign-{i}",
            'A neon sign that says "OPEN"',
            "m1",
            0.3 + noise[i % 2] / 4,
            duration_ms=4000 + i,
        )
        for i in range(6)
    ]
    rows += [generation(f"fox-{i}", "a red fox, running", "m2", 0.4) for i in range(3)]
    rows += [generation("fox-text", "A red fox running!", "m2", 0.4)]
    rows += [generation("whale", "a blue whale", "m1", 0.3)]
    rows += [generation("hidden", "a neon sign that says open", "m1", 0.0, reason="no_consent")]
    return pl.DataFrame(rows, schema=CANDIDATE_SCHEMA)


def test_priority_is_the_version_adjusted_deficit_at_its_lower_bound() -> None:
    frame = candidates()
    curriculum = prompt_curriculum(frame, None, (), PriorityRule(0.95, 1), "lv1")
    rows = {r["prompt"]: r for r in curriculum.rows.to_dicts()}
    kept = frame.filter(pl.col("exclusion_reason").is_null())
    version_means = dict(kept.group_by("model_version").agg(pl.col("quality_score").mean()).rows())
    residuals = kept["quality_score"] - kept["model_version"].replace_strict(version_means)
    spread = float(np.std(residuals.to_numpy(), ddof=1))
    z = NormalDist().inv_cdf(0.95)

    sign = rows['A neon sign that says "OPEN"']
    assert sign["generations"] == 6 and sign["requests"] == 6
    assert sign["expected_quality"] == pytest.approx(version_means["m1"])
    assert sign["deficit"] == pytest.approx(version_means["m1"] - 0.3)
    assert sign["deficit_low"] == pytest.approx(sign["deficit"] - z * spread / np.sqrt(6))
    assert sign["priority"] == pytest.approx(sign["deficit_low"]) and sign["priority"] > 0
    assert (sign["priority_rank"], sign["bad_share"], sign["good_share"]) == (1, 1.0, 0.0)

    fox = rows["a red fox, running"]  # the most used text of its cluster
    assert (fox["prompt_variants"], fox["generations"]) == (2, 4)
    assert fox["deficit"] == pytest.approx(version_means["m2"] - 0.4)
    assert fox["priority"] == 0.0  # no worse than its version usually is: not the prompt's fault

    whale = rows["a blue whale"]
    assert whale["deficit"] == pytest.approx(sign["deficit"])  # as weak as the sign prompt...
    assert whale["priority"] == 0.0  # ...but one generation is no solid evidence
    assert sign["deficit_low"] > 0 > whale["deficit_low"]
    strict = prompt_curriculum(frame, None, (), PriorityRule(0.95, 7), "lv1").rows
    assert strict.filter(pl.col("prompt") == 'A neon sign that says "OPEN"')[
        "priority"
    ].to_list() == [0.0]
    assert curriculum.excluded == {"no_consent": 1}
    assert sorted(curriculum.rows["priority_rank"].to_list()) == list(
        range(1, curriculum.rows.height + 1)
    )
    assert list(curriculum.rows.columns) == list(PROMPTS_SCHEMA)


def test_predictions_per_version_and_the_gap_to_what_was_observed() -> None:
    seen: list[pl.DataFrame] = []

    def predictor(planned: pl.DataFrame) -> np.ndarray:
        """Deterministic scores by version (m1 0.65, m2 0.45): what the column plumbing must carry."""
        seen.append(planned)
        return np.where(planned["model_version"] == "m1", 0.65, 0.45)

    curriculum = prompt_curriculum(candidates(), predictor, ("m1", "m2"), PriorityRule(), "lv1")
    assert curriculum.predicted_versions == ("m1", "m2")
    planned = seen[0]
    clusters = curriculum.rows.height
    assert planned.height == 2 * clusters  # every cluster under every version
    sign_plan = planned.filter(pl.col("prompt") == 'A neon sign that says "OPEN"')
    assert sign_plan["duration_ms"].to_list() == [4002, 4002]  # the cluster's median, rounded
    assert dict(sign_plan.select("model_version", "width").rows()) == {"m1": 1280, "m2": 720}
    sign = curriculum.rows.filter(pl.col("priority_rank") == 1).row(0, named=True)
    by_version = {v["model_version"]: v for v in sign["by_model_version"]}
    assert by_version["m1"]["generations"] == 6
    assert by_version["m1"]["observed_quality"] == pytest.approx(0.3)
    assert by_version["m2"]["generations"] == 0 and by_version["m2"]["observed_quality"] is None
    assert by_version["m2"]["predicted_quality"] == pytest.approx(0.45)
    assert sign["predicted_quality"] == pytest.approx(0.65)  # weighted by what served it: m1 only
    assert sign["prediction_gap"] == pytest.approx(0.65 - 0.3)


def test_without_a_champion_predictions_are_null() -> None:
    curriculum = prompt_curriculum(candidates(), None, ("m1",), PriorityRule(), "lv1")
    assert curriculum.predicted_versions == ()
    assert curriculum.rows["predicted_quality"].null_count() == curriculum.rows.height


def test_prompt_keys_ignore_case_punctuation_and_filler_but_not_word_order() -> None:
    prompts = pl.Series(
        [
            "A red fox, chasing a butterfly!",
            "a red fox chasing the butterfly",
            "butterfly chasing a red fox",
        ]
    )
    keys = prompts.to_frame("p").select(prompt_text_key(pl.col("p")))["p"].to_list()
    assert keys == [
        "red fox chasing butterfly",
        "red fox chasing butterfly",
        "butterfly chasing red fox",
    ]
    ids = prompt_cluster_ids(prompts).to_list()
    assert ids[0] == ids[1] != ids[2] and len(ids[0]) == 16
    words = pl.Series(["the", "up", "30", "close", "fox"]).to_frame("w")
    assert words.select(is_filler_word(pl.col("w")))["w"].to_list() == [
        True,
        True,
        True,
        False,
        False,
    ]
    content = pl.DataFrame({"p": ["close-up of a fox, it's 30 years old"]}).select(
        content_words(pl.col("p"))
    )
    assert content["p"].to_list() == [["close", "fox", "years", "old"]]
