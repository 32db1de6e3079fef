"""`reelloop report`: one static HTML page on what improved, what is weak and whether the model is good.

The numbers come from the `report_*` views (created or replaced on every run, so analysts can query the
same figures); the page is self-contained (inline SVG / PNG, no script) and small whatever the data size.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.locking import warehouse_at
from report.config import RenderConfig, ReportConfig
from report.data import ReportData
from report.derive import derive_report_data
from report.page import render_report
from warehouse.report_data import create_report_views, load_truth, read_report_views

REPORT_FILE = "index.html"


@task(retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def read_report(db_path: str, truth_path: str | None, config: ReportConfig) -> ReportData:
    """Create the report views (loading the truth first when given) and read their aggregates.

    Runs as a writer (the views and `report_truth` live in the warehouse), so the published snapshot
    carries the `report_*` relations for analysts afterwards.
    """
    if not Path(db_path).is_file():
        raise FileNotFoundError(f"warehouse not found: {db_path}")
    with warehouse_at(db_path).writer() as con:
        if truth_path is not None:
            load_truth(con, truth_path)
        create_report_views(con)
        views = read_report_views(con, with_truth=truth_path is not None)
        return derive_report_data(views, config)


@task(cache_policy=NO_CACHE)
def render(data: ReportData, source: str, config: RenderConfig) -> str:
    """The HTML page (pure rendering)."""
    return render_report(data, generated_at=datetime.now(UTC), source=source, config=config)


@task(retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def write_page(page: str, out_dir: str) -> Path:
    """Write DIR/index.html atomically (a reader never sees half a page)."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / REPORT_FILE
    partial = folder / f".{REPORT_FILE}.partial"
    partial.write_text(page, encoding="utf-8")
    partial.replace(target)
    return target


@flow(name="report")
def report_flow(
    db_path: str = "reelloop.duckdb",
    out_dir: str = "report",
    truth_path: str | None = None,
    config: ReportConfig | None = None,
    render_config: RenderConfig | None = None,
) -> dict[str, Any]:
    """Render the report of the warehouse at `db_path` into `out_dir`/index.html."""
    logger = get_run_logger()
    if truth_path is not None and not Path(truth_path).is_file():
        raise FileNotFoundError(f"truth file not found: {truth_path}")
    data = read_report(db_path, truth_path, config or ReportConfig())
    page = render(data, Path(db_path).name, render_config or RenderConfig())
    path = write_page(page, out_dir)
    size = path.stat().st_size
    logger.info("report written to %s (%d bytes)", path, size)
    return {
        "path": str(path),
        "bytes": size,
        "model_versions": data.version_quality.height,
        "significant_pairs": int(data.version_pairs["significant"].sum()),
        "with_truth": data.truth is not None,
    }


def run(args: argparse.Namespace) -> int:
    summary = report_flow(db_path=args.db, out_dir=args.out, truth_path=args.truth)
    print(f"report: {summary['path']} ({summary['bytes']:,} bytes)")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `report` verb."""
    parser = sub.add_parser(
        "report",
        help="render a static HTML report of versions, prompts, funnel, biases, data health and the model",
        description=(
            "Write OUT/index.html: model-version comparison with confidence intervals and Holm-corrected "
            "tests, weakest prompt n-grams, engagement funnel, position/duration bias before and after "
            "labeling, data health, preference-model metrics, and (with --truth) labels against truth. "
            "The figures come from the report_* views, which stay in the warehouse for SQL."
        ),
    )
    parser.add_argument("--out", required=True, help="output folder (index.html is written there)")
    parser.add_argument(
        "--truth",
        default=None,
        help="truth parquet (generation_id, true_quality), e.g. SIMDIR/truth/generations.parquet",
    )
    parser.set_defaults(handler=run)
