"""The label and evaluate-labels flows: `pipelines.label` and `pipelines.evaluate` with each step a
Prefect task (see those modules)."""

from __future__ import annotations

from prefect import flow

from features.label_config import LabelConfig
from flows.artifacts import publish_stage_artifacts
from flows.locking import warehouse_at
from flows.runner import PrefectRunner
from pipelines.evaluate import evaluate_labels
from pipelines.label import label
from pipelines.label_partitions import ScaleOut
from results.label import LabelEvaluation, LabelSummary


@flow(name="label")
def label_flow(
    db_path: str = "reelloop.duckdb",
    config: LabelConfig | None = None,
    scale_out: ScaleOut | None = None,
) -> LabelSummary:
    """Label every known generation and build preference pairs; returns a small summary.

    On a Dask task runner the event-level passes run partition by partition on the workers
    (`scale_out`, default `ScaleOut()`); on the local runner, as SQL in the warehouse.
    """
    summary = label(warehouse_at(db_path), config, PrefectRunner(), scale_out)
    publish_stage_artifacts(summary)
    return summary


@flow(name="evaluate-labels")
def evaluate_labels_flow(
    db_path: str, truth_path: str, min_impressions: int = 30
) -> LabelEvaluation:
    """Spearman of scores with the truth and pair agreement by confidence band and source."""
    evaluation = evaluate_labels(
        warehouse_at(db_path), truth_path, min_impressions, PrefectRunner()
    )
    publish_stage_artifacts(evaluation)
    return evaluation
