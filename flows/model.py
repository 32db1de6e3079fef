"""The train, score, score-prompt and rank flows: `pipelines.train` and `pipelines.score` with
each step a Prefect task (see those modules)."""

from __future__ import annotations

from prefect import flow

from flows.artifacts import publish_stage_artifacts
from flows.locking import warehouse_at
from flows.runner import PrefectRunner
from models.registry import PromotionPolicy
from models.training import TrainingConfig
from pipelines.score import (
    PlannedOutput,
    rank_request,
    score_generations,
    score_prompt,
    score_prompt_file,
)
from pipelines.train import train_config, train_models
from results.model import (
    PromptBatchScores,
    PromptScores,
    RequestRanking,
    ScoreSummary,
    TrainSummary,
)


@flow(name="train")
def train_flow(
    db_path: str = "reelloop.duckdb",
    artifacts_dir: str | None = None,
    truth_path: str | None = None,
    kinds: tuple[str, ...] = ("pairwise",),
    train_fraction: float = 0.7,
    pairwise_c: float = TrainingConfig.pairwise_c,
    pointwise_alpha: float = TrainingConfig.pointwise_alpha,
    promotion_metric: str = PromotionPolicy.metric,
    min_improvement: float = PromotionPolicy.min_improvement,
) -> TrainSummary:
    """Train each model kind, evaluate it beside baselines, register it, decide its promotion."""
    config = train_config(
        kinds,
        train_fraction,
        pairwise_c,
        pointwise_alpha,
        promotion_metric,
        min_improvement,
        artifacts_dir,
    )
    summary = train_models(warehouse_at(db_path), config, truth_path, PrefectRunner())
    publish_stage_artifacts(summary)
    return summary


@flow(name="score")
def score_flow(db_path: str = "reelloop.duckdb", batch_size: int = 100_000) -> ScoreSummary:
    """Score every generation the champion has not scored yet into `scores`, in bounded batches."""
    summary = score_generations(warehouse_at(db_path), batch_size, PrefectRunner())
    publish_stage_artifacts(summary)
    return summary


@flow(name="score-prompt")
def score_prompt_flow(
    db_path: str = "reelloop.duckdb",
    prompt: str = "",
    model_versions: tuple[str, ...] = (),
    duration_ms: int = 5000,
    width: int | None = None,
    height: int | None = None,
    fps: float | None = None,
) -> PromptScores:
    """Predicted quality of a new prompt under each model version (all the champion knows by default)."""
    planned = PlannedOutput(duration_ms=duration_ms, width=width, height=height, fps=fps)
    return score_prompt(warehouse_at(db_path), prompt, model_versions, planned, PrefectRunner())


@flow(name="score-prompt-file")
def score_prompt_file_flow(
    db_path: str = "reelloop.duckdb",
    prompts_path: str = "prompts.txt",
    model_versions: tuple[str, ...] = (),
    duration_ms: int = 5000,
    width: int | None = None,
    height: int | None = None,
    fps: float | None = None,
) -> PromptBatchScores:
    """Predicted quality of every prompt of a text file (one per line) under each model version."""
    planned = PlannedOutput(duration_ms=duration_ms, width=width, height=height, fps=fps)
    return score_prompt_file(
        warehouse_at(db_path), prompts_path, model_versions, planned, PrefectRunner()
    )


@flow(name="rank")
def rank_flow(db_path: str = "reelloop.duckdb", request_id: str = "") -> RequestRanking:
    """A request's candidates ordered by champion score (best first), with their current label."""
    return rank_request(warehouse_at(db_path), request_id, PrefectRunner())
