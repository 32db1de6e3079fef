"""Report: one static HTML page on what improved, what is weak and whether the model is good.

create the report_* views (loading the truth first when given), read their aggregates and the previous
run's figures, record this run's figures (`report_runs`) -> render the page (pure, report/) -> write
DIR/index.html atomically. The numbers come from the `report_*` views (created or replaced on every run,
so analysts can query the same figures); the page is self-contained (inline SVG / PNG, no script) and
small whatever the data size. Its first section compares the run with the previous one; the run is
recorded in the same transaction that reads its figures (one snapshot publish per report).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

from pipelines.steps import DIRECT, IO_RETRY, StepRunner, step
from report.config import RenderConfig, ReportConfig
from report.data import ReportData
from report.derive import derive_report_data
from report.page import render_report
from results.report import ReportSummary
from warehouse.report_data import (
    create_report_views,
    load_truth,
    read_report_views,
    record_report_run,
)
from warehouse.resource import Warehouse

REPORT_FILE = "index.html"


@step(IO_RETRY)
def read_report(
    warehouse: Warehouse, truth_path: str | None, config: ReportConfig, run_at: datetime
) -> ReportData:
    """Create the report views (loading the truth first when given), read their aggregates and the
    previous run's figures, and record this run's figures.

    Runs as a writer (the views, `report_truth` and `report_runs` live in the warehouse), so the
    published snapshot carries the `report_*` relations for analysts afterwards.
    """
    if not warehouse.is_memory and not Path(warehouse.path).is_file():
        raise FileNotFoundError(f"warehouse not found: {warehouse.path}")
    with warehouse.writer() as con:
        if truth_path is not None:
            load_truth(con, truth_path)
        create_report_views(con)
        data = derive_report_data(read_report_views(con, with_truth=truth_path is not None), config)
        record_report_run(con, uuid.uuid4().hex, run_at, {"figures": data.figures})
    return data


@step()
def render(data: ReportData, source: str, config: RenderConfig, generated_at: datetime) -> str:
    """The HTML page (pure rendering)."""
    return render_report(data, generated_at=generated_at, source=source, config=config)


@step(IO_RETRY)
def write_page(page: str, out_dir: str) -> Path:
    """Write DIR/index.html atomically (a reader never sees half a page)."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / REPORT_FILE
    partial = folder / f".{REPORT_FILE}.partial"
    partial.write_text(page, encoding="utf-8")
    partial.replace(target)
    return target


def write_report(
    warehouse: Warehouse,
    out_dir: str,
    truth_path: str | None = None,
    config: ReportConfig | None = None,
    render_config: RenderConfig | None = None,
    runner: StepRunner = DIRECT,
) -> ReportSummary:
    """Render the report of the warehouse into `out_dir`/index.html."""
    if truth_path is not None and not Path(truth_path).is_file():
        raise FileNotFoundError(f"truth file not found: {truth_path}")
    now = datetime.now(UTC)
    data = runner.run(read_report, warehouse, truth_path, config or ReportConfig(), now)
    source = Path(warehouse.path).name
    page = runner.run(render, data, source, render_config or RenderConfig(), now)
    path = runner.run(write_page, page, out_dir)
    size = path.stat().st_size
    runner.log.info("report written to %s (%d bytes)", path, size)
    return ReportSummary(
        path=str(path),
        bytes=size,
        model_versions=data.version_quality.height,
        significant_pairs=int(data.version_pairs["significant"].sum()),
        with_truth=data.truth is not None,
    )
