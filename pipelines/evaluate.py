"""Evaluate labels: Spearman of scores with a simulation's truth beside naive rates, and the
share of pairs whose chosen side is truly better, by confidence band and source."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from features.label_evaluation import pair_agreement, rank_agreement
from pipelines.steps import DIRECT, IO_RETRY, StepRunner, step
from pipelines.truth import read_truth
from results.label import LabelEvaluation
from warehouse import engagement as events_sql
from warehouse.resource import Warehouse


@dataclass(frozen=True)
class EvaluationInputs:
    """Current labels, current pairs and the naive rates from raw events."""

    labels: pl.DataFrame
    pairs: pl.DataFrame
    naive: pl.DataFrame


@step(IO_RETRY)
def read_evaluation_inputs(warehouse: Warehouse) -> EvaluationInputs:
    """Current labels, current pairs and the naive rates from raw events."""
    with warehouse.writer(publish=False) as con:
        return EvaluationInputs(
            labels=events_sql.query(con, "label/current_labels"),
            pairs=events_sql.query(con, "label/current_pairs"),
            naive=events_sql.naive_rates(con),
        )


def evaluate_labels(
    warehouse: Warehouse, truth_path: str, min_impressions: int = 30, runner: StepRunner = DIRECT
) -> LabelEvaluation:
    """Labels and pairs against the truth at `truth_path`."""
    inputs = runner.run(read_evaluation_inputs, warehouse)
    truth = runner.run(read_truth, truth_path)
    return LabelEvaluation(
        ranks=rank_agreement(inputs.labels, inputs.naive, truth, min_impressions=min_impressions),
        pairs=pair_agreement(inputs.pairs, truth),
    )
