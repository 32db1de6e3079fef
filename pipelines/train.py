"""Train: fit the preference model(s), evaluate beside baselines, register, decide promotion.

read labels and pairs -> split requests by time -> train each kind on the earliest requests ->
evaluate on the rest beside baselines -> for each new model: re-evaluate the champion on the same
held-out window, save the artifact, register the model and the decision (crowning it if promoted).
Idempotent: a kind already registered for the same training inputs (content fingerprint) is not
trained again, so a rerun after a crash or on unchanged data adds no model.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from models.artifacts import save_bundle
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
from models.training import ScoringBundle, TrainingConfig, train_bundle
from pipelines.champion import Champion, read_current_champion
from pipelines.publish import publish_if_stale
from pipelines.steps import DIRECT, IO_RETRY, StepPolicy, StepRunner, step
from pipelines.truth import read_truth
from results.model import ModelOutcome, TrainSummary
from warehouse.registry import (
    ChampionDecisionRecord,
    ModelInputs,
    RegisteredModel,
    model_trained_on,
    read_model_inputs,
    register_model_and_decision,
)
from warehouse.resource import Warehouse

ARTIFACTS_FOLDER = "artifacts"
ARTIFACT_SUFFIX = ".skops"


@dataclass(frozen=True)
class TrainConfig:
    """What train fits and how it decides: model kinds, their settings, the split, the promotion."""

    kinds: tuple[str, ...] = ("pairwise",)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    policy: PromotionPolicy = field(default_factory=PromotionPolicy)
    artifacts_dir: str | None = None
    """Default `<db dir>/artifacts`: artifacts live beside the warehouse they are registered in."""


def train_config(
    kinds: tuple[str, ...] = ("pairwise",),
    train_fraction: float = EvaluationConfig.train_fraction,
    pairwise_c: float = TrainingConfig.pairwise_c,
    pointwise_alpha: float = TrainingConfig.pointwise_alpha,
    promotion_metric: str = PromotionPolicy.metric,
    min_improvement: float = PromotionPolicy.min_improvement,
    artifacts_dir: str | None = None,
) -> TrainConfig:
    """The train configuration from the plain values a flow or the command line passes."""
    return TrainConfig(
        kinds=kinds,
        training=TrainingConfig(pairwise_c=pairwise_c, pointwise_alpha=pointwise_alpha),
        evaluation=EvaluationConfig(train_fraction=train_fraction),
        policy=PromotionPolicy(metric=promotion_metric, min_improvement=min_improvement),
        artifacts_dir=artifacts_dir,
    )


@dataclass(frozen=True)
class TrainingRun:
    """What every model of one train run shares: its data, split, fingerprint and evaluation."""

    data: EvaluationData
    split: RequestSplit
    fingerprint: str
    evaluation: Evaluation
    label_version: str
    baselines: dict[str, dict]
    """Held-out metrics of the baseline scorers (and of kinds not trained again), by name."""


def default_artifacts_dir(db_path: str) -> Path:
    """`<db dir>/artifacts`: artifacts live beside the warehouse they are registered in."""
    return Path(db_path).absolute().parent / ARTIFACTS_FOLDER


@step(IO_RETRY)
def read_inputs(warehouse: Warehouse) -> ModelInputs:
    """Generations, labels and preference pairs, from one transaction."""
    with warehouse.writer(publish=False) as con:
        return read_model_inputs(con)


@step()
def train(
    kind: str, data: EvaluationData, split: RequestSplit, config: TrainingConfig
) -> ScoringBundle:
    """Fit one model kind on the training requests only."""
    return train_bundle(
        kind, split.train(data.generations), data.labels, split.train(data.pairs), config
    )


@step()
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


@step()
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


@step(StepPolicy(retries=1, retry_delay_seconds=(2.0,)))
def save_artifact(bundle: ScoringBundle, path: str) -> str:
    """Write the skops artifact; returns its sha256."""
    return save_bundle(bundle, path)


@step(IO_RETRY)
def record_model(
    warehouse: Warehouse, model: RegisteredModel, decision: ChampionDecisionRecord
) -> None:
    """Insert the model and the decision (crowning it if promoted), then publish the snapshot."""
    with warehouse.writer() as con:
        register_model_and_decision(con, model, decision)


@step(IO_RETRY)
def find_trained_model(warehouse: Warehouse, kind: str, fingerprint: str) -> str | None:
    """The model of `kind` already registered for exactly these training inputs, if any."""
    with warehouse.writer(publish=False) as con:
        return model_trained_on(con, kind, fingerprint)


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
    """A digest of what the training saw (the content of its inputs, windows, settings): equal
    inputs, equal digest."""
    facts = [
        frame_digest(data.generations),
        frame_digest(data.labels),
        frame_digest(data.pairs),
        split.train_request_ids.len(),
        str(split.train_end),
        repr(config),
    ]
    return hashlib.sha256(json.dumps(facts, default=str).encode()).hexdigest()


def registered_model(
    kind: str,
    model_id: str,
    created_at: datetime,
    bundle: ScoringBundle,
    run: TrainingRun,
    promotion: dict,
    artifact: tuple[Path, str],
) -> RegisteredModel:
    """The registry row of a newly trained model: windows, metrics beside baselines, artifact
    (path, sha256)."""
    return RegisteredModel(
        model_id=model_id,
        created_at=created_at,
        model_kind=kind,
        label_version=run.label_version,
        feature_spec_hash=bundle.feature_spec.sha256,
        train_start=run.split.train_start,
        train_end=run.split.train_end,
        test_start=run.split.test_start,
        test_end=run.split.test_end,
        metrics={
            "evaluation": run.evaluation.metrics_of(kind),
            "reliability": run.evaluation.reliability_of(kind),
            "baselines": run.baselines,
            "counts": run.evaluation.counts,
            "promotion": promotion,
            "training_fingerprint": run.fingerprint,
        },
        artifact_path=str(artifact[0]),
        artifact_sha256=artifact[1],
    )


def register_new_model(
    warehouse: Warehouse,
    kind: str,
    bundle: ScoringBundle,
    champion: Champion | None,
    run: TrainingRun,
    config: TrainConfig,
    runner: StepRunner,
    promoted_this_run: str | None = None,
) -> tuple[ModelOutcome, Champion | None]:
    """Challenge the champion with a new model, save and register it with the decision; returns
    its outcome and the champion after it (the new model when promoted). When another model of
    this run was promoted (`promoted_this_run`), it is registered without challenging."""
    previous_id = champion.record.model_id if champion else None
    if promoted_this_run is None:
        decision, comparison = runner.run(
            challenge, bundle, champion, run.data, run.split, config.evaluation, config.policy
        )
    else:
        decision = PromotionDecision(
            False,
            None,
            None,
            f"{promoted_this_run} of this run ranked higher and was promoted "
            "(at most one promotion per run)",
        )
        comparison = {}
    created_at = datetime.now(UTC)
    model_id = new_model_id(kind, created_at, bundle.feature_spec.sha256, run.fingerprint)
    artifact = artifacts_dir(warehouse, config) / f"{model_id}{ARTIFACT_SUFFIX}"
    sha256 = runner.run(save_artifact, bundle, str(artifact))
    promotion = {"metric": config.policy.metric, **comparison}
    record = registered_model(
        kind, model_id, created_at, bundle, run, promotion, (artifact, sha256)
    )
    decision_record = ChampionDecisionRecord(
        model_id=model_id,
        decided_at=datetime.now(UTC),
        promoted=decision.promoted,
        previous_champion_id=previous_id,
        challenger_metric=decision.challenger_metric,
        champion_metric=decision.champion_metric,
        reason=decision.reason,
    )
    runner.run(record_model, warehouse, record, decision_record)
    runner.log.info(
        "%s %s: %s", model_id, "promoted" if decision.promoted else "kept out", decision.reason
    )
    outcome = ModelOutcome(
        model_id, kind, decision.promoted, decision.reason, previous_id, str(artifact)
    )
    return outcome, Champion(record, bundle) if decision.promoted else champion


def best_first(bundles: dict[str, ScoringBundle], evaluation: Evaluation, metric: str) -> list[str]:
    """The kinds trained this run, best held-out `metric` first (missing values last): only the
    best may challenge the champion, so one run crowns at most one model."""

    def rank(kind: str) -> tuple[bool, float]:
        value = evaluation.metrics_of(kind).get(metric)
        return (value is None, -(value or 0.0))

    return sorted(bundles, key=rank)


def artifacts_dir(warehouse: Warehouse, config: TrainConfig) -> Path:
    """Where this run's artifacts go (the config's folder, else beside the warehouse)."""
    return (
        Path(config.artifacts_dir)
        if config.artifacts_dir
        else default_artifacts_dir(warehouse.path)
    )


def already_trained_outcome(kind: str, model_id: str, champion: Champion | None) -> ModelOutcome:
    """The outcome of a kind not trained again because its inputs are unchanged."""
    return ModelOutcome(
        model_id=model_id,
        kind=kind,
        promoted=False,
        reason="already trained on these inputs (same data and settings): not trained again",
        previous_champion_id=champion.record.model_id if champion else None,
        artifact_path=None,
    )


def prepared_run(
    warehouse: Warehouse, config: TrainConfig, truth_path: str | None, runner: StepRunner
) -> tuple[EvaluationData, RequestSplit, str, str]:
    """(data, split, fingerprint, label version) of this run, from the warehouse (and the truth)."""
    inputs = runner.run(read_inputs, warehouse)
    if inputs.labels.height == 0:
        raise ValueError("the warehouse has no labels: run `reelloop label` first")
    truth = runner.run(read_truth, truth_path) if truth_path else None
    data = EvaluationData(inputs.generations, inputs.labels, inputs.pairs, truth)
    split = split_requests_by_time(inputs.generations, config.evaluation.train_fraction)
    fingerprint = training_fingerprint(data, split, config.training)
    return data, split, fingerprint, label_version_of(inputs.labels)


def train_models(
    warehouse: Warehouse,
    config: TrainConfig | None = None,
    truth_path: str | None = None,
    runner: StepRunner = DIRECT,
) -> TrainSummary:
    """Train each model kind, evaluate it beside baselines, register it, decide its promotion."""
    config = config or TrainConfig()
    data, split, fingerprint, label_version = prepared_run(warehouse, config, truth_path, runner)
    already = {
        kind: runner.run(find_trained_model, warehouse, kind, fingerprint) for kind in config.kinds
    }
    to_train = [kind for kind in config.kinds if not already[kind]]
    steps = len(to_train) + 1
    bundles = {}
    for number, kind in enumerate(to_train, start=1):
        bundles[kind] = runner.run(train, kind, data, split, config.training)
        runner.progress("train: models", number, steps)
    evaluation = runner.run(evaluate, bundles, data, split, config.evaluation)
    runner.progress("train: models", steps, steps)
    table = format_evaluation(evaluation)
    runner.log.info("held-out evaluation:\n%s", table)
    champion = runner.run(read_current_champion, warehouse)
    baselines = {
        name: evaluation.metrics_of(name)
        for name in evaluation.table["scorer"]
        if name not in bundles
    }
    run = TrainingRun(data, split, fingerprint, evaluation, label_version, baselines)
    models = [
        already_trained_outcome(kind, model_id, champion)
        for kind, model_id in already.items()
        if model_id
    ]
    promoted: str | None = None
    for kind in best_first(bundles, evaluation, config.policy.metric):
        outcome, champion = register_new_model(
            warehouse, kind, bundles[kind], champion, run, config, runner, promoted
        )
        promoted = outcome.model_id if outcome.promoted else promoted
        models.append(outcome)
    if not bundles:
        runner.run(
            publish_if_stale, warehouse
        )  # nothing new: still publish what a killed run committed
    return TrainSummary(
        table=table,
        counts=evaluation.counts,
        metrics={
            row["scorer"]: evaluation.metrics_of(row["scorer"])
            for row in evaluation.table.iter_rows(named=True)
        },
        models=tuple(models),
        champion_id=champion.record.model_id if champion else None,
    )
