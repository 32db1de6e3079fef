"""The ingest flow: `pipelines.ingest` with each step a Prefect task (see that module)."""

from __future__ import annotations

from prefect import flow

from flows.artifacts import publish_stage_artifacts
from flows.locking import warehouse_at
from flows.runner import PrefectRunner
from pipelines.ingest import IngestOptions, ingest, rules_from_parameters
from results.ingest import IngestSummary
from warehouse.ingest import IngestRules, check_landing_dir

DEFAULT_RULES = IngestRules()


@flow(name="ingest")
def ingest_flow(
    landing_dir: str,
    db_path: str = "reelloop.duckdb",
    max_future_skew_hours: float = DEFAULT_RULES.max_future_skew.total_seconds() / 3600,
    min_timestamp: str = DEFAULT_RULES.min_timestamp.isoformat(),
    max_line_bytes: int = DEFAULT_RULES.max_line_bytes,
    memory_limit: str | None = DEFAULT_RULES.memory_limit,
    threads: int | None = DEFAULT_RULES.threads,
    stage_on_workers: bool | None = None,
    staging_dir: str | None = None,
    max_files_staged_ahead: int = 8,
    stale_staging_hours: float = 24.0,
) -> IngestSummary:
    """Ingest every new file of the landing zone; returns the run's accounting.

    `stage_on_workers` None: judge files on the Dask workers when the task runner is Dask;
    `staging_dir` None: `<db stem>.staging` beside the warehouse. Staged directories untouched for
    `stale_staging_hours` (left by a killed run) are removed first.
    """
    check_landing_dir(landing_dir)
    options = IngestOptions(
        stage_on_workers=stage_on_workers,
        staging_dir=staging_dir,
        max_files_staged_ahead=max_files_staged_ahead,
        stale_staging_hours=stale_staging_hours,
    )
    rules = rules_from_parameters(
        max_future_skew_hours, min_timestamp, max_line_bytes, memory_limit, threads
    )
    summary = ingest(warehouse_at(db_path), landing_dir, rules, options, PrefectRunner())
    publish_stage_artifacts(summary)
    return summary
