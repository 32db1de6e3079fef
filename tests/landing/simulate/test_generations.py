"""Generations carry embeddings of one length per model version."""

from __future__ import annotations

import polars as pl

from landing.simulate import SimulationConfig, build_generations


def test_embeddings_have_one_length_per_model_version() -> None:
    generations = build_generations(SimulationConfig(requests=150, embedding_dim=12))
    lengths = generations.group_by("model_version").agg(
        pl.col("output_embedding").list.len().unique().alias("lengths")
    )
    assert lengths.height == 3
    assert all(v == [12] for v in lengths.get_column("lengths").to_list())
