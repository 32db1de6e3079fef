"""`reelloop train | score | score-prompt | rank`: the preference model's flows (thin wiring).

train: fit on the first `train_fraction` of requests by time, evaluate on the rest beside baselines,
register the artifact, and promote it only if it beats the champion on the same held-out window.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from features.label_evaluation import format_table
from features.model_features import generation_frame
from flows.artifacts import publish_score_artifacts, publish_train_artifacts
from flows.locking import warehouse_at
from flows.runner import run_plain, run_task, with_runner
from models.artifacts import load_bundle, save_bundle
from models.evaluation import (
    Evaluation,
    EvaluationConfig,
    EvaluationData,
    RequestSplit,
    baseline_scorers,
    evaluate_scorers,
    format_evaluation,
    split_requests_by_time,
)
from models.registry import PromotionDecision, PromotionPolicy, challenge_champion, new_model_id
from models.training import MODEL_KINDS, ScoringBundle, TrainingConfig, train_bundle
from warehouse.registry import (
    ChampionDecisionRecord,
    ModelInputs,
    RegisteredModel,
    insert_scores,
    model_trained_on,
    read_champion,
    read_model_inputs,
    read_request_generations,
    read_unscored_generations,
    register_model_and_decision,
)

log = logging.getLogger(__name__)

ARTIFACTS_FOLDER = "artifacts"
ARTIFACT_SUFFIX = ".skops"


@dataclass(frozen=True)
class Champion:
    """The registered champion and its loaded model."""

    record: RegisteredModel
    bundle: ScoringBundle


def default_artifacts_dir(db_path: str) -> Path:
    """`<db dir>/artifacts`: artifacts live beside the warehouse they are registered in."""
    return Path(db_path).absolute().parent / ARTIFACTS_FOLDER


@task(retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def read_inputs(db_path: str) -> ModelInputs:
    """Generations, labels and preference pairs, from one transaction."""
    with warehouse_at(db_path).writer(publish=False) as con:
        return read_model_inputs(con)


@task(retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def read_truth(truth_path: str) -> pl.DataFrame:
    """The simulator's hidden true quality per generation (only to measure, never to train)."""
    path = Path(truth_path)
    if not path.is_file():
        raise FileNotFoundError(f"truth file not found: {path}")
    truth = pl.read_parquet(path)
    missing = {"generation_id", "true_quality"} - set(truth.columns)
    if missing:
        raise ValueError(f"truth file {path} lacks column(s): {', '.join(sorted(missing))}")
    return truth.select("generation_id", "true_quality")


@task(retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def read_current_champion(db_path: str) -> Champion | None:
    """The champion's registry row and its artifact (sha256-checked), or None before the first one."""
    with warehouse_at(db_path).writer(publish=False) as con:
        record = read_champion(con)
    if record is None:
        return None
    return Champion(record, load_bundle(record.artifact_path, record.artifact_sha256))


@task(cache_policy=NO_CACHE)
def train(
    kind: str, data: EvaluationData, split: RequestSplit, config: TrainingConfig
) -> ScoringBundle:
    """Fit one model kind on the training requests only."""
    return train_bundle(
        kind, split.train(data.generations), data.labels, split.train(data.pairs), config
    )


@task(cache_policy=NO_CACHE)
def evaluate(
    bundles: dict[str, ScoringBundle],
    data: EvaluationData,
    split: RequestSplit,
    config: EvaluationConfig,
) -> Evaluation:
    """The new models and the baselines, on the held-out requests."""
    train_labels = data.labels.filter(
        pl.col("generation_id").is_in(split.train(data.generations)["generation_id"].implode())
    )
    scorers = {kind: bundle.score for kind, bundle in bundles.items()}
    scorers.update(baseline_scorers(split.train(data.generations), train_labels))
    return evaluate_scorers(scorers, data, split, config)


@task(cache_policy=NO_CACHE)
def challenge(
    challenger: ScoringBundle,
    champion: Champion | None,
    data: EvaluationData,
    split: RequestSplit,
    config: EvaluationConfig,
    policy: PromotionPolicy,
) -> tuple[PromotionDecision, dict]:
    """Re-evaluate the champion's artifact beside the challenger on the same held-out window; decide."""
    return challenge_champion(
        challenger.score,
        champion.bundle.score if champion else None,
        champion.record.train_end if champion else None,
        data,
        split,
        config,
        policy,
    )


@task(retries=1, retry_delay_seconds=[2], cache_policy=NO_CACHE)
def save_artifact(bundle: ScoringBundle, path: str) -> str:
    """Write the skops artifact; returns its sha256."""
    return save_bundle(bundle, path)


@task(retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def record_model(db_path: str, model: RegisteredModel, decision: ChampionDecisionRecord) -> None:
    """Insert the model and the decision (crowning it if promoted), then publish the snapshot."""
    with warehouse_at(db_path).writer() as con:
        register_model_and_decision(con, model, decision)


def label_version_of(labels: pl.DataFrame) -> str:
    """The label version(s) the model learned from, comma-joined if several."""
    versions = sorted(labels["label_version"].drop_nulls().unique().to_list())
    return ",".join(versions) or "none"


def frame_digest(frame: pl.DataFrame) -> str:
    """sha256 of a frame's rows, independent of their order (its columns in sorted order)."""
    if frame.height == 0:
        return hashlib.sha256(b"").hexdigest()
    hashes = frame.select(sorted(frame.columns)).hash_rows(seed=0).sort()
    return hashlib.sha256(hashes.to_numpy().tobytes()).hexdigest()


def training_fingerprint(data: EvaluationData, split: RequestSplit, config: TrainingConfig) -> str:
    """A digest of what the training saw (the content of its inputs, windows, settings): equal inputs, equal digest."""
    facts = [
        frame_digest(data.generations),
        frame_digest(data.labels),
        frame_digest(data.pairs),
        split.train_request_ids.len(),
        str(split.train_end),
        repr(config),
    ]
    return hashlib.sha256(json.dumps(facts, default=str).encode()).hexdigest()


@task(retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def find_trained_model(db_path: str, kind: str, fingerprint: str) -> str | None:
    """The model of `kind` already registered for exactly these training inputs, if any."""
    with warehouse_at(db_path).writer(publish=False) as con:
        return model_trained_on(con, kind, fingerprint)


def train_models(
    db_path: str,
    artifacts_dir: str | None,
    truth_path: str | None,
    kinds: tuple[str, ...],
    config: TrainingConfig,
    evaluation_config: EvaluationConfig,
    policy: PromotionPolicy,
    *,
    run: Callable[..., Any] = run_plain,
    logger: logging.Logger | logging.LoggerAdapter = log,
) -> dict:
    """Train each model kind, evaluate it beside baselines, register it, decide its promotion.

    Idempotent: a kind already registered for the same training inputs (content fingerprint)
    is not trained again, so a rerun after a crash or on unchanged data adds no model.
    """
    folder = Path(artifacts_dir) if artifacts_dir else default_artifacts_dir(db_path)
    inputs = run(read_inputs, db_path)
    if inputs.labels.height == 0:
        raise ValueError("the warehouse has no labels: run `reelloop label` first")
    truth = run(read_truth, truth_path) if truth_path else None
    data = EvaluationData(inputs.generations, inputs.labels, inputs.pairs, truth)
    split = split_requests_by_time(inputs.generations, evaluation_config.train_fraction)
    fingerprint = training_fingerprint(data, split, config)
    already = {kind: run(find_trained_model, db_path, kind, fingerprint) for kind in kinds}
    bundles = {kind: run(train, kind, data, split, config) for kind in kinds if not already[kind]}
    evaluation = run(evaluate, bundles, data, split, evaluation_config)
    table = format_evaluation(evaluation)
    logger.info("held-out evaluation:\n%s", table)

    champion = run(read_current_champion, db_path)
    baselines = {
        name: evaluation.metrics_of(name)
        for name in evaluation.table["scorer"]
        if name not in bundles
    }
    models = [
        {
            "model_id": model_id,
            "kind": kind,
            "promoted": False,
            "reason": "already trained on these inputs (same data and settings): not trained again",
            "previous_champion_id": champion.record.model_id if champion else None,
            "artifact_path": None,
        }
        for kind, model_id in already.items()
        if model_id
    ]
    for kind, bundle in bundles.items():
        previous_id = champion.record.model_id if champion else None
        decision, comparison = run(
            challenge, bundle, champion, data, split, evaluation_config, policy
        )
        created_at = datetime.now(UTC)
        model_id = new_model_id(kind, created_at, bundle.feature_spec.sha256, fingerprint)
        artifact = folder / f"{model_id}{ARTIFACT_SUFFIX}"
        sha256 = run(save_artifact, bundle, str(artifact))
        record = RegisteredModel(
            model_id=model_id,
            created_at=created_at,
            model_kind=kind,
            label_version=label_version_of(inputs.labels),
            feature_spec_hash=bundle.feature_spec.sha256,
            train_start=split.train_start,
            train_end=split.train_end,
            test_start=split.test_start,
            test_end=split.test_end,
            metrics={
                "evaluation": evaluation.metrics_of(kind),
                "baselines": baselines,
                "counts": evaluation.counts,
                "promotion": {"metric": policy.metric, **comparison},
                "training_fingerprint": fingerprint,
            },
            artifact_path=str(artifact),
            artifact_sha256=sha256,
        )
        run(
            record_model,
            db_path,
            record,
            ChampionDecisionRecord(
                model_id=model_id,
                decided_at=datetime.now(UTC),
                promoted=decision.promoted,
                previous_champion_id=previous_id,
                challenger_metric=decision.challenger_metric,
                champion_metric=decision.champion_metric,
                reason=decision.reason,
            ),
        )
        logger.info(
            "%s %s: %s", model_id, "promoted" if decision.promoted else "kept out", decision.reason
        )
        models.append(
            {
                "model_id": model_id,
                "kind": kind,
                "promoted": decision.promoted,
                "reason": decision.reason,
                "previous_champion_id": previous_id,
                "artifact_path": str(artifact),
            }
        )
        if decision.promoted:
            champion = Champion(record, bundle)
    if not bundles:
        run(publish, db_path)  # nothing new: still publish what a killed run committed
    return {
        "table": table,
        "counts": evaluation.counts,
        "metrics": {
            row["scorer"]: evaluation.metrics_of(row["scorer"])
            for row in evaluation.table.iter_rows(named=True)
        },
        "models": models,
        "champion_id": champion.record.model_id if champion else None,
    }


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
) -> dict:
    """Train each model kind, evaluate it beside baselines, register it, decide its promotion."""
    summary = train_models(
        db_path,
        artifacts_dir,
        truth_path,
        kinds,
        TrainingConfig(pairwise_c=pairwise_c, pointwise_alpha=pointwise_alpha),
        EvaluationConfig(train_fraction=train_fraction),
        PromotionPolicy(metric=promotion_metric, min_improvement=min_improvement),
        run=run_task,
        logger=get_run_logger(),
    )
    publish_train_artifacts(summary)
    return summary


def require_champion(champion: Champion | None) -> Champion:
    if champion is None:
        raise ValueError("no champion model yet: run `reelloop train` first")
    return champion


@task(retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def score_batch(db_path: str, champion: Champion, batch_size: int) -> int:
    """Score up to `batch_size` generations the champion has not scored and store the scores."""
    with warehouse_at(db_path).writer(publish=False) as con:
        batch = read_unscored_generations(con, champion.record.model_id, batch_size)
        if batch.height == 0:
            return 0
        scores = champion.bundle.scores_frame(batch, champion.record.model_id)
        return insert_scores(con, scores, datetime.now(UTC))


@task(retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def publish(db_path: str) -> None:
    """Publish the read-only snapshot once after all batches, if anything committed since the last one
    (also rows an earlier run committed but was killed before publishing)."""
    warehouse_at(db_path).publish_if_stale()


def score_models(
    db_path: str,
    batch_size: int,
    *,
    run: Callable[..., Any] = run_plain,
    logger: logging.Logger | logging.LoggerAdapter = log,
) -> dict:
    """Score every generation the champion has not scored yet, in committed batches (a rerun resumes)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    champion = require_champion(run(read_current_champion, db_path))
    total = 0
    while scored := run(score_batch, db_path, champion, batch_size):
        total += scored
    run(publish, db_path)
    logger.info("model %s scored %d new generation(s)", champion.record.model_id, total)
    return {"model_id": champion.record.model_id, "scored": total}


@flow(name="score")
def score_flow(db_path: str = "reelloop.duckdb", batch_size: int = 100_000) -> dict:
    """Score every generation the champion has not scored yet into `scores`, in bounded batches."""
    summary = score_models(db_path, batch_size, run=run_task, logger=get_run_logger())
    publish_score_artifacts(summary)
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
) -> dict:
    """Predicted quality of a new prompt under each model version (all the champion knows by default)."""
    if not prompt.strip():
        raise ValueError("the prompt is empty")
    if duration_ms <= 0:
        raise ValueError(f"duration_ms must be > 0, got {duration_ms}")
    champion = require_champion(read_current_champion(db_path))
    versions = model_versions or champion.bundle.feature_spec.model_versions
    frame = generation_frame(
        prompt, versions, duration_ms=duration_ms, width=width, height=height, fps=fps
    )
    ranked = (
        frame.select("model_version")
        .with_columns(
            predicted_quality=pl.Series(champion.bundle.predicted_quality(frame)),
            score=pl.Series(champion.bundle.score(frame)),
            known=pl.col("model_version").is_in(list(champion.bundle.feature_spec.model_versions)),
        )
        .sort(["predicted_quality", "score"], descending=True)
    )
    return {"model_id": champion.record.model_id, "rows": ranked.to_dicts()}


@flow(name="rank")
def rank_flow(db_path: str = "reelloop.duckdb", request_id: str = "") -> dict:
    """A request's candidates ordered by champion score (best first), with their current label."""
    champion = require_champion(read_current_champion(db_path))
    candidates = read_request(db_path, request_id)
    if candidates.height == 0:
        raise ValueError(f"no generations for request {request_id!r}")
    ranked = (
        candidates.select("generation_id", "model_version", "quality_score")
        .with_columns(
            score=pl.Series(champion.bundle.score(candidates)),
            predicted_quality=pl.Series(champion.bundle.predicted_quality(candidates)),
        )
        .sort(["score", "generation_id"], descending=[True, False])
        .with_row_index("rank", offset=1)
    )
    return {
        "model_id": champion.record.model_id,
        "request_id": request_id,
        "rows": ranked.to_dicts(),
    }


@task(retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def read_request(db_path: str, request_id: str) -> pl.DataFrame:
    with warehouse_at(db_path).writer(publish=False) as con:
        return read_request_generations(con, request_id)


def format_rows(rows: list[dict], columns: list[str]) -> str:
    """Rows as an aligned text table (floats to 4 decimals, null as '-')."""
    return format_table(pl.DataFrame(rows).select(columns), float_digits=4)


def require_db(db_path: str) -> None:
    if not Path(db_path).is_file():
        raise FileNotFoundError(
            f"warehouse {db_path} not found (run `reelloop ingest` and `reelloop label` first)"
        )


def run_train(args: argparse.Namespace) -> int:
    require_db(args.db)
    kinds = MODEL_KINDS if args.kind == "both" else (args.kind,)
    summary = with_runner(train_flow, args)(
        db_path=args.db,
        artifacts_dir=args.artifacts,
        truth_path=args.truth,
        kinds=kinds,
        train_fraction=args.train_fraction,
        pairwise_c=args.pairwise_c,
        pointwise_alpha=args.pointwise_alpha,
        min_improvement=args.min_improvement,
    )
    print(summary["table"])
    for model in summary["models"]:
        verdict = "PROMOTED to champion" if model["promoted"] else "not promoted"
        print(f"{model['model_id']}: {verdict} ({model['reason']})")
    print(f"champion: {summary['champion_id']}")
    return 0


def run_score(args: argparse.Namespace) -> int:
    require_db(args.db)
    summary = with_runner(score_flow, args)(db_path=args.db, batch_size=args.batch_size)
    print(f"model {summary['model_id']} scored {summary['scored']} new generation(s)")
    return 0


def run_score_prompt(args: argparse.Namespace) -> int:
    require_db(args.db)
    summary = with_runner(score_prompt_flow, args)(
        db_path=args.db,
        prompt=args.prompt,
        model_versions=tuple(args.model_version or ()),
        duration_ms=args.duration_ms,
        width=args.width,
        height=args.height,
        fps=args.fps,
    )
    print(f"champion {summary['model_id']}")
    print(format_rows(summary["rows"], ["model_version", "predicted_quality", "score", "known"]))
    return 0


def run_rank(args: argparse.Namespace) -> int:
    require_db(args.db)
    summary = with_runner(rank_flow, args)(db_path=args.db, request_id=args.request_id)
    print(f"request {summary['request_id']} ranked by champion {summary['model_id']}")
    print(
        format_rows(
            summary["rows"],
            [
                "rank",
                "generation_id",
                "model_version",
                "score",
                "predicted_quality",
                "quality_score",
            ],
        )
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `train`, `score`, `score-prompt` and `rank` verbs."""
    defaults = TrainingConfig()
    parser = subparsers.add_parser(
        "train",
        help="train the preference model, evaluate it beside baselines, register it, maybe promote it",
        description=(
            "Train on the first --train-fraction of requests by time, evaluate on the rest (preference-pair "
            "accuracy, sibling accuracy against labels, Spearman, calibration; with --truth also accuracy "
            "against the simulator's true quality), print the table beside baselines, save the artifact, "
            "register it and promote it only if it beats the champion on the same held-out window."
        ),
    )
    parser.add_argument(
        "--artifacts", default=None, help="artifact folder (default: <db dir>/artifacts)"
    )
    parser.add_argument(
        "--truth", default=None, help="truth/generations.parquet of a simulation (evaluation only)"
    )
    parser.add_argument(
        "--kind",
        choices=[*MODEL_KINDS, "both"],
        default="pairwise",
        help="model kind(s) to train (default pairwise)",
    )
    parser.add_argument(
        "--train-fraction",
        type=float,
        default=EvaluationConfig.train_fraction,
        help="share of requests (earliest first) to train on (default 0.7)",
    )
    parser.add_argument(
        "--pairwise-c",
        type=float,
        default=defaults.pairwise_c,
        help=f"inverse L2 strength of the pairwise model (default {defaults.pairwise_c})",
    )
    parser.add_argument(
        "--pointwise-alpha",
        type=float,
        default=defaults.pointwise_alpha,
        help=f"ridge strength of the pointwise model (default {defaults.pointwise_alpha})",
    )
    parser.add_argument(
        "--min-improvement",
        type=float,
        default=PromotionPolicy.min_improvement,
        help="margin by which a challenger must beat the champion's held-out pair accuracy",
    )
    parser.set_defaults(handler=run_train)

    parser = subparsers.add_parser(
        "score",
        help="score generations not yet scored by the champion into `scores`",
        description="Score, in batches, every generation the current champion has not scored yet.",
    )
    parser.add_argument(
        "--batch-size", type=int, default=100_000, help="generations per batch (default 100000)"
    )
    parser.set_defaults(handler=run_score)

    parser = subparsers.add_parser(
        "score-prompt",
        help="predicted quality of a new prompt under each model version",
        description=(
            "Predicted quality_score (champion score mapped by its calibration on training labels) of a "
            "prompt for each model version; no output exists yet, so no embedding is used."
        ),
    )
    parser.add_argument("prompt", help="the prompt text")
    parser.add_argument(
        "--model-version",
        action="append",
        default=None,
        help="a model version to score (repeatable; default: all the champion knows)",
    )
    parser.add_argument(
        "--duration-ms", type=int, default=5000, help="planned video length (default 5000)"
    )
    parser.add_argument("--width", type=int, default=None, help="planned width in pixels")
    parser.add_argument("--height", type=int, default=None, help="planned height in pixels")
    parser.add_argument("--fps", type=float, default=None, help="planned frame rate")
    parser.set_defaults(handler=run_score_prompt)

    parser = subparsers.add_parser(
        "rank",
        help="order a request's candidates by champion score",
        description="Print a request's candidate generations ordered by the champion's score, best first.",
    )
    parser.add_argument("request_id", help="the request whose candidates to rank")
    parser.set_defaults(handler=run_rank)
