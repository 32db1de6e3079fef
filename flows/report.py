"""The report flow: `pipelines.report` with each step a Prefect task (see that module)."""

from __future__ import annotations

from prefect import flow

from flows.locking import warehouse_at
from flows.runner import PrefectRunner
from pipelines.report import write_report
from report.config import RenderConfig, ReportConfig
from results.report import ReportSummary


@flow(name="report")
def report_flow(
    db_path: str = "reelloop.duckdb",
    out_dir: str = "report",
    truth_path: str | None = None,
    config: ReportConfig | None = None,
    render_config: RenderConfig | None = None,
) -> ReportSummary:
    """Render the report of the warehouse at `db_path` into `out_dir`/index.html."""
    return write_report(
        warehouse_at(db_path), out_dir, truth_path, config, render_config, PrefectRunner()
    )
