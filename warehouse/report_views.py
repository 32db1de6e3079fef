"""The `report_*` views as the warehouse hands them to the report: one small polars frame per view.

Kept apart from `warehouse.report_data` (which reads them with DuckDB) so that `report/`, which turns these
frames into the page's figures, depends on this dataclass and polars only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl


@dataclass(frozen=True)
class TruthViews:
    """The `report_truth_*` views: labels against the simulator's hidden truth."""

    agreement: pl.DataFrame
    hist2d: pl.DataFrame
    by_label: pl.DataFrame
    by_model_version: pl.DataFrame


@dataclass(frozen=True)
class PreviousRun:
    """The latest recorded report run: when, and the figures it showed (`report_runs`)."""

    run_id: str
    run_at: datetime
    figures: dict[str, Any]


@dataclass(frozen=True)
class ReportViews:
    """Every row of each report view (all aggregated, hence small); `truth` only when it was loaded."""

    warehouse_overview: pl.DataFrame
    model_version_quality: pl.DataFrame
    model_version_daily: pl.DataFrame
    model_version_paired: pl.DataFrame
    prompt_ngrams: pl.DataFrame
    prompt_clauses: pl.DataFrame
    generation_attributes: pl.DataFrame
    funnel: pl.DataFrame
    position_view_rate: pl.DataFrame
    duration_completion: pl.DataFrame
    ingest_files: pl.DataFrame
    quarantine_reasons: pl.DataFrame
    event_lateness: pl.DataFrame
    abnormal_viewers: pl.DataFrame
    model_registry: pl.DataFrame
    champion_history: pl.DataFrame
    exports: pl.DataFrame
    previous_run: PreviousRun | None = None
    truth: TruthViews | None = None
    label_diagnostics: pl.DataFrame = field(default_factory=pl.DataFrame)
    """The latest label run's truth-free checks (empty before the first label run)."""
