"""The prompt curriculum: one row per cluster of near-identical prompts, with how its generations were
labeled, what its model versions usually achieve, what the preference model predicts, and a `priority`
for the next training mix.

Priority. A cluster's deficit is how far its mean quality_score falls below what the model versions
that served it achieve over all prompts (each version's mean, weighted by how many of the cluster's
generations it made): the version mix is taken out, so a prompt is not blamed for a weak version. The
priority is the deficit's one-sided lower confidence bound, max(0, deficit - z * sd / sqrt(n)), with sd
the spread of quality around the version means over every included generation: a cluster ranks high
only when it clearly underperforms and has the generations to show it; a cluster with fewer than
`min_generations` labeled generations gets priority 0 whatever its bound (too thin to act on). Pure polars; the champion's
predictions come in as a frame (the stage scores `prediction_inputs` with the model).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import polars as pl

from features.export_schema import PROMPTS_SCHEMA
from features.prompt_text import prompt_cluster_ids

Predictor = Callable[[pl.DataFrame], np.ndarray]
"""Planned generations (generation_id, prompt, model_version, duration_ms, width, height, fps) in,
predicted quality_score out: the champion's `predicted_quality`."""


@dataclass(frozen=True)
class PriorityRule:
    """How the deficit becomes a priority: its one-sided confidence level and the fewest generations."""

    confidence: float = 0.95
    min_generations: int = 3

    def __post_init__(self) -> None:
        if not 0.5 <= self.confidence < 1.0:
            raise ValueError(f"priority confidence must be in [0.5, 1), got {self.confidence}")
        if self.min_generations < 1:
            raise ValueError(f"priority min_generations must be >= 1, got {self.min_generations}")


PREDICTION_SCHEMA: dict[str, pl.DataType] = {
    "prompt_cluster": pl.String(),
    "model_version": pl.String(),
    "predicted_quality": pl.Float64(),
}


def included_generations(candidates: pl.DataFrame) -> pl.DataFrame:
    """The labeled generations that passed the filters, with their prompt cluster and the residual
    of their quality around their model version's mean."""
    kept = candidates.filter(pl.col("exclusion_reason").is_null())
    return kept.with_columns(
        prompt_cluster=prompt_cluster_ids(kept["prompt"]),
        residual=pl.col("quality_score") - pl.col("quality_score").mean().over("model_version"),
    )


def representative_prompts(included: pl.DataFrame) -> pl.DataFrame:
    """Per cluster: its most used prompt text (ties: the first in text order) and how many texts it has."""
    return (
        included.group_by("prompt_cluster", "prompt")
        .agg(pl.len().alias("uses"))
        .sort(["prompt_cluster", "uses", "prompt"], descending=[False, True, False])
        .group_by("prompt_cluster", maintain_order=True)
        .agg(pl.col("prompt").first(), pl.len().cast(pl.Int64).alias("prompt_variants"))
    )


def cluster_statistics(included: pl.DataFrame, confidence: float) -> pl.DataFrame:
    """Per cluster: sizes, observed quality, the version-mix expectation, the deficit and its lower bound."""
    spread = float(included["residual"].std() or 0.0) if included.height > 1 else 0.0
    z = NormalDist().inv_cdf(confidence)
    version_mean = pl.col("quality_score").mean().over("model_version")
    stats = (
        included.with_columns(version_mean=version_mean)
        .group_by("prompt_cluster")
        .agg(
            pl.col("request_id").n_unique().cast(pl.Int64).alias("requests"),
            pl.len().cast(pl.Int64).alias("generations"),
            pl.col("quality_score").mean().alias("mean_quality"),
            pl.col("quality_score").std().alias("sd_quality"),
            (pl.col("label") == "good").mean().alias("good_share"),
            (pl.col("label") == "bad").mean().alias("bad_share"),
            pl.col("version_mean").mean().alias("expected_quality"),
        )
        .with_columns(deficit=pl.col("expected_quality") - pl.col("mean_quality"))
        .with_columns(
            deficit_low=pl.col("deficit")
            - z * spread / pl.col("generations").cast(pl.Float64).sqrt()
        )
    )
    return representative_prompts(included).join(stats, on="prompt_cluster")


def typical_settings(included: pl.DataFrame) -> pl.DataFrame:
    """Per model version: its most common width, height and fps (ties: the smallest), to score with."""

    def mode(column: str) -> pl.Expr:
        return pl.col(column).drop_nulls().mode().sort().first().alias(column)

    return included.group_by("model_version").agg(mode("width"), mode("height"), mode("fps"))


def prediction_inputs(
    included: pl.DataFrame, clusters: pl.DataFrame, model_versions: list[str]
) -> pl.DataFrame:
    """One planned generation per cluster and model version, for the preference model to score: the
    cluster's representative prompt and median duration, the version's typical resolution and fps."""
    durations = included.group_by("prompt_cluster").agg(
        pl.col("duration_ms").median().round().cast(pl.Int64).alias("duration_ms")
    )
    versions = pl.DataFrame({"model_version": model_versions}, schema={"model_version": pl.String})
    planned = (
        clusters.select("prompt_cluster", "prompt")
        .join(durations, on="prompt_cluster")
        .join(versions, how="cross")
        .join(typical_settings(included), on="model_version", how="left")
    )
    return planned.with_columns(
        generation_id=pl.col("prompt_cluster") + ":" + pl.col("model_version"),
        width=pl.col("width").cast(pl.Int64),
        height=pl.col("height").cast(pl.Int64),
        fps=pl.col("fps").cast(pl.Float64),
    ).sort("prompt_cluster", "model_version")


def per_version(included: pl.DataFrame, predictions: pl.DataFrame) -> pl.DataFrame:
    """Per cluster: list of {model_version, generations, observed_quality, predicted_quality} over the
    versions that served it or that the champion scored, and the served-weighted prediction."""
    observed = included.group_by("prompt_cluster", "model_version").agg(
        pl.len().cast(pl.Int64).alias("generations"),
        pl.col("quality_score").mean().alias("observed_quality"),
    )
    rows = observed.join(
        predictions, on=["prompt_cluster", "model_version"], how="full", coalesce=True
    )
    rows = rows.with_columns(pl.col("generations").fill_null(0)).sort(
        "prompt_cluster", "model_version"
    )
    served_weight = pl.col("generations").cast(pl.Float64)
    return rows.group_by("prompt_cluster", maintain_order=True).agg(
        pl.struct("model_version", "generations", "observed_quality", "predicted_quality").alias(
            "by_model_version"
        ),
        (
            (pl.col("predicted_quality") * served_weight).sum()
            / served_weight.filter(pl.col("predicted_quality").is_not_null()).sum()
        )
        .fill_nan(None)
        .alias("predicted_quality"),
    )


def curriculum_rows(
    included: pl.DataFrame,
    clusters: pl.DataFrame,
    predictions: pl.DataFrame | None,
    min_generations: int,
    label_version: str,
) -> pl.DataFrame:
    """The curriculum rows, best priority first, in `PROMPTS_SCHEMA`; `predictions`: prompt_cluster,
    model_version, predicted_quality (None without a champion)."""
    scored = predictions if predictions is not None else pl.DataFrame(schema=PREDICTION_SCHEMA)
    rows = (
        clusters.join(per_version(included, scored), on="prompt_cluster", how="left")
        .with_columns(
            prediction_gap=pl.col("predicted_quality") - pl.col("mean_quality"),
            priority=pl.when(pl.col("generations") >= min_generations)
            .then(pl.col("deficit_low").clip(lower_bound=0.0))
            .otherwise(0.0),
            label_version=pl.lit(label_version, dtype=pl.String),
        )
        .sort(
            ["priority", "deficit", "generations", "prompt_cluster"],
            descending=[True, True, True, False],
        )
        .with_columns(priority_rank=pl.int_range(1, pl.len() + 1, dtype=pl.Int64))
    )
    return rows.select([pl.col(name).cast(dtype) for name, dtype in PROMPTS_SCHEMA.items()])


@dataclass(frozen=True)
class PromptCurriculum:
    """The curriculum rows and the labeled generations left out of it, per reason."""

    rows: pl.DataFrame
    excluded: dict[str, int]
    predicted_versions: tuple[str, ...]


def excluded_by_reason(candidates: pl.DataFrame) -> dict[str, int]:
    """How many labeled generations each exclusion reason left out (reasons with none omitted)."""
    counts = (
        candidates.filter(pl.col("exclusion_reason").is_not_null())
        .group_by("exclusion_reason")
        .len()
        .sort("exclusion_reason")
    )
    return {reason: int(n) for reason, n in counts.iter_rows()}


def prompt_curriculum(
    candidates: pl.DataFrame,
    predictor: Predictor | None,
    model_versions: Sequence[str],
    rule: PriorityRule,
    label_version: str,
) -> PromptCurriculum:
    """The curriculum of the labeled generations that pass the filters. `predictor` maps planned
    generations (prediction_inputs) to predicted quality_score; None without a champion."""
    included = included_generations(candidates)
    clusters = cluster_statistics(included, rule.confidence)
    predictions = None
    versions = tuple(model_versions) if predictor is not None else ()
    if predictor is not None and versions and clusters.height:
        planned = prediction_inputs(included, clusters, list(versions))
        predictions = planned.select("prompt_cluster", "model_version").with_columns(
            predicted_quality=pl.Series(np.asarray(predictor(planned), dtype=np.float64))
        )
    rows = curriculum_rows(included, clusters, predictions, rule.min_generations, label_version)
    return PromptCurriculum(rows, excluded_by_reason(candidates), versions)
