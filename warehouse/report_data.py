"""The warehouse side of the report: the `report_*` views (warehouse/sql/report/*.sql), the truth they
compare labels with, and their rows read into small polars frames.

Every figure is aggregated in SQL first, so what reaches Python (and the HTML) is bounded by the number of
model versions, days, n-grams, positions and bins, never by the number of events. The statistics on top
(confidence intervals, Welch tests with Holm correction, bucketing) are pure functions in `report/`.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from warehouse.connection import transaction
from warehouse.report_views import PreviousRun, ReportViews, TruthViews
from warehouse.sql_files import SQL_ROOT, sql_statement, sql_text

log = logging.getLogger(__name__)

REPORT_SQL_FOLDER = "report"

# Allowlist of the views the report reads, each with its file `warehouse/sql/report/<name>.sql`, in the
# order they are created (a view another one reads comes first).
REPORT_VIEW_FILES: dict[str, str] = {
    "report_labeled_prompts": "report/report_labeled_prompts",
    "report_warehouse_overview": "report/report_warehouse_overview",
    "report_model_version_quality": "report/report_model_version_quality",
    "report_model_version_daily": "report/report_model_version_daily",
    "report_model_version_paired": "report/report_model_version_paired",
    "report_prompt_ngrams": "report/report_prompt_ngrams",
    "report_prompt_clauses": "report/report_prompt_clauses",
    "report_generation_attributes": "report/report_generation_attributes",
    "report_funnel": "report/report_funnel",
    "report_position_view_rate": "report/report_position_view_rate",
    "report_duration_completion": "report/report_duration_completion",
    "report_ingest_files": "report/report_ingest_files",
    "report_quarantine_reasons": "report/report_quarantine_reasons",
    "report_event_lateness": "report/report_event_lateness",
    "report_abnormal_viewers": "report/report_abnormal_viewers",
    "report_model_registry": "report/report_model_registry",
    "report_champion_history": "report/report_champion_history",
    "report_label_diagnostics": "report/report_label_diagnostics",
    "report_exports": "report/report_exports",
    "report_truth_agreement": "report/report_truth_agreement",
    "report_truth_hist2d": "report/report_truth_hist2d",
    "report_truth_by_label": "report/report_truth_by_label",
    "report_truth_by_model_version": "report/report_truth_by_model_version",
}
REPORT_VIEWS: tuple[str, ...] = tuple(REPORT_VIEW_FILES)


def report_view_names() -> list[str]:
    """Names of the view files in warehouse/sql/report (the allowlist must cover them all)."""
    folder = SQL_ROOT / REPORT_SQL_FOLDER
    return sorted(p.name.removesuffix(".sql") for p in folder.iterdir() if p.name.endswith(".sql"))


def create_report_views(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Create or replace every `report_*` view so analysts can query them; returns their names."""
    for file_name in REPORT_VIEW_FILES.values():
        con.execute(sql_text(file_name))
    return list(REPORT_VIEWS)


def load_truth(con: duckdb.DuckDBPyConnection, truth_path: str | Path) -> int:
    """Replace `report_truth` with the truth parquet (generation_id, true_quality); returns its rows."""
    path = Path(truth_path)
    if not path.is_file():
        raise FileNotFoundError(f"truth file not found: {path}")
    columns = {
        row[0]
        for row in con.execute(
            sql_statement("report/truth/load", "columns"), [str(path)]
        ).fetchall()
    }
    missing = {"generation_id", "true_quality"} - columns
    if missing:
        raise ValueError(f"truth file {path} lacks column(s) {', '.join(sorted(missing))}")
    with transaction(con):
        con.execute(sql_statement("report/truth/load", "clear"))
        con.execute(sql_statement("report/truth/load", "insert"), [str(path), str(path)])
    return int(con.execute(sql_statement("report/truth/load", "count")).fetchall()[0][0])


def read_view(con: duckdb.DuckDBPyConnection, name: str) -> pl.DataFrame:
    """All rows of one report view (every view is aggregated, hence small)."""
    if name not in REPORT_VIEWS:
        raise ValueError(f"not a report view: {name}")
    return con.table(name).pl()  # name is from the allowlist; no SQL text is built


def read_report_views(con: duckdb.DuckDBPyConnection, with_truth: bool = False) -> ReportViews:
    """Every report view (already created) as a frame; the truth views only `with_truth`."""
    truth = None
    if with_truth:
        truth = TruthViews(
            agreement=read_view(con, "report_truth_agreement"),
            hist2d=read_view(con, "report_truth_hist2d"),
            by_label=read_view(con, "report_truth_by_label"),
            by_model_version=read_view(con, "report_truth_by_model_version"),
        )
    return ReportViews(
        warehouse_overview=read_view(con, "report_warehouse_overview"),
        model_version_quality=read_view(con, "report_model_version_quality"),
        model_version_daily=read_view(con, "report_model_version_daily"),
        model_version_paired=read_view(con, "report_model_version_paired"),
        prompt_ngrams=read_view(con, "report_prompt_ngrams"),
        prompt_clauses=read_view(con, "report_prompt_clauses"),
        generation_attributes=read_view(con, "report_generation_attributes"),
        funnel=read_view(con, "report_funnel"),
        position_view_rate=read_view(con, "report_position_view_rate"),
        duration_completion=read_view(con, "report_duration_completion"),
        ingest_files=read_view(con, "report_ingest_files"),
        quarantine_reasons=read_view(con, "report_quarantine_reasons"),
        event_lateness=read_view(con, "report_event_lateness"),
        abnormal_viewers=read_view(con, "report_abnormal_viewers"),
        model_registry=read_view(con, "report_model_registry"),
        champion_history=read_view(con, "report_champion_history"),
        exports=read_view(con, "report_exports"),
        previous_run=read_previous_run(con),
        truth=truth,
        label_diagnostics=read_view(con, "report_label_diagnostics"),
    )


def read_previous_run(con: duckdb.DuckDBPyConnection) -> PreviousRun | None:
    """The latest recorded report run and the figures it showed, or None before the first."""
    # fetch until the result is exhausted: the connection reads further views after this one
    rows = con.execute(sql_statement("report/runs/record", "previous_run")).fetchall()
    if not rows:
        return None
    row = rows[0]
    run_id, run_at, figures = row
    return PreviousRun(run_id=run_id, run_at=run_at, figures=json.loads(figures))


def record_report_run(
    con: duckdb.DuckDBPyConnection, run_id: str, run_at: datetime, figures: dict[str, Any]
) -> None:
    """Record a report run's figures, so the next report can say what changed since."""
    con.execute(
        sql_statement("report/runs/record", "insert_run"),
        {"run_id": run_id, "run_at": run_at, "figures": json.dumps(figures, sort_keys=True)},
    )
