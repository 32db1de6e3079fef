"""Prefect artifacts summarising each run, created at the end of each flow.

The content (markdown and tables built from the flows' summary dicts) is formatted by the pure
`report.artifacts`; the `publish_*_artifacts` functions here create it as artifacts of the current
flow run. Artifacts are keyed, so the Prefect UI (Artifacts page) and `prefect artifact ls` show the
latest of each key and its history across runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from prefect import get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.context import FlowRunContext

from report.artifacts import (
    Artifact,
    export_artifacts,
    ingest_artifacts,
    label_artifacts,
    label_evaluation_artifacts,
    score_artifacts,
    train_artifacts,
)
from report.markdown import table_rows


def create_artifacts(artifacts: Sequence[Artifact]) -> int:
    """Create each artifact in the current flow run; returns how many were created.

    Outside a flow run (plain function calls, tests) nothing is created. A failure to create one is
    logged as a warning and does not fail the run: the flow's data work has already committed.
    """
    if FlowRunContext.get() is None:
        return 0
    logger = get_run_logger()
    created = 0
    for key, description, content in artifacts:
        try:
            if isinstance(content, str):
                create_markdown_artifact(markdown=content, key=key, description=description)
            else:
                create_table_artifact(table=table_rows(content), key=key, description=description)
            created += 1
        except Exception as exc:  # reporting must not fail a run whose writes committed
            logger.warning("could not create artifact %s: %s", key, exc)
    return created


def publish_ingest_artifacts(summary: Mapping[str, Any]) -> int:
    """ingest-summary (markdown), ingest-rows and ingest-quarantine (tables)."""
    return create_artifacts(ingest_artifacts(summary))


def publish_label_artifacts(summary: Mapping[str, Any]) -> int:
    """label-summary (markdown) and label-counts (table)."""
    return create_artifacts(label_artifacts(summary))


def publish_label_evaluation_artifacts(evaluation: Mapping[str, Any]) -> int:
    """label-evaluation (markdown), label-spearman and label-pair-agreement (tables)."""
    return create_artifacts(label_evaluation_artifacts(evaluation))


def publish_train_artifacts(summary: Mapping[str, Any]) -> int:
    """train-summary (markdown), train-models and train-metrics (tables)."""
    return create_artifacts(train_artifacts(summary))


def publish_score_artifacts(summary: Mapping[str, Any]) -> int:
    """score-summary (markdown)."""
    return create_artifacts(score_artifacts(summary))


def publish_export_artifacts(summary: Mapping[str, Any]) -> int:
    """export-summary (markdown), export-counts and export-exclusions (tables)."""
    return create_artifacts(export_artifacts(summary))
