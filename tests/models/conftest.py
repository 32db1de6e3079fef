"""Tiny generated worlds for model tests: quality = model effect + embedding signal, labels = truth."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from models.evaluation import EvaluationData

START = datetime(2026, 1, 1, tzinfo=UTC)


def tiny_world(n_requests: int = 60, candidates: int = 3, seed: int = 0) -> EvaluationData:
    """Requests of `candidates` siblings; true quality = 0.6 * [v2] + embedding . (1, -1) (+ small noise)."""
    rng = np.random.default_rng(seed)
    n = n_requests * candidates
    request = np.repeat(np.arange(n_requests), candidates)
    version = rng.choice(["v1", "v2"], size=n)
    embedding = rng.normal(0.0, 1.0, (n, 2))
    truth = 0.6 * (version == "v2") + embedding @ np.array([1.0, -1.0]) + rng.normal(0, 0.05, n)
    quality = 1.0 / (1.0 + np.exp(-truth))
    subjects = np.array(["a red fox", "a city at night", "a bowl of ramen"])
    generations = pl.DataFrame(
        {
            "generation_id": [f"g{i:03d}" for i in range(n)],
            "request_id": [f"r{r:03d}" for r in request],
            "created_at": [START + timedelta(minutes=int(r)) for r in request],
            "prompt": subjects[request % 3].tolist(),
            "model_version": version.tolist(),
            "duration_ms": np.full(n, 5000),
            "output_embedding": embedding.tolist(),
        }
    )
    labels = generations.select(
        "generation_id",
        label_version=pl.lit("t1"),
        quality_score=pl.Series(quality),
        quality_low=pl.Series(quality - 0.05),
        quality_high=pl.Series(quality + 0.05),
    )
    siblings = generations.select("request_id", "generation_id").with_columns(q=pl.Series(quality))
    pairs = (
        siblings.join(siblings, on="request_id", suffix="_other")
        .filter(pl.col("q") > pl.col("q_other"))
        .sort(["request_id", "generation_id", "generation_id_other"])
        .select(
            "request_id",
            chosen_generation_id="generation_id",
            rejected_generation_id="generation_id_other",
            confidence=pl.lit(1.0),
            label_version=pl.lit("t1"),
        )
    )
    truth_frame = generations.select("generation_id", true_quality=pl.Series(quality))
    return EvaluationData(generations, labels, pairs, truth_frame)


@pytest.fixture
def world() -> EvaluationData:
    return tiny_world()
