"""The export flow: `pipelines.export` with each step a Prefect task (see that module)."""

from __future__ import annotations

from datetime import datetime

from prefect import flow

from features.export import ExportConfig
from flows.artifacts import publish_stage_artifacts
from flows.locking import warehouse_at
from flows.runner import PrefectRunner
from pipelines.export import export_datasets
from results.export import ExportSummary


@flow(name="export")
def export_flow(
    db_path: str = "reelloop.duckdb",
    out_dir: str = "export",
    since: datetime | None = None,
    until: datetime | None = None,
    min_confidence: float = 0.0,
    test_fraction: float = 0.1,
    report_threshold: int = 3,
) -> ExportSummary:
    """Export DPO, KTO and reward datasets to `out_dir`; returns export_id, path, counts and
    exclusions."""
    config = ExportConfig(
        since=since,
        until=until,
        min_confidence=min_confidence,
        test_fraction=test_fraction,
        report_threshold=report_threshold,
    )
    summary = export_datasets(warehouse_at(db_path), out_dir, config, PrefectRunner())
    publish_stage_artifacts(summary)
    return summary
