"""Prefect artifacts summarising each run, created at the end of each flow.

The content (markdown and tables built from the stages' typed results) is formatted by the pure
`report.artifacts`; `publish_stage_artifacts` creates it as artifacts of the current flow run.
Artifacts are keyed, so the Prefect UI (Artifacts page) and `prefect artifact ls` show the latest
of each key and its history across runs.
"""

from __future__ import annotations

from collections.abc import Sequence

from prefect import get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.context import FlowRunContext

from report.artifacts import Artifact, stage_artifacts
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


def publish_stage_artifacts(result: object) -> int:
    """The artifacts of a stage's typed result (none for a stage that has none)."""
    return create_artifacts(stage_artifacts(result))
