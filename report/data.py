"""What the report's sections draw: small frames derived from the report views (no raw rows)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from report.config import ReportConfig
from warehouse.report_views import PreviousRun


@dataclass(frozen=True)
class ReportData:
    """Everything the renderer draws, as small frames (no raw rows)."""

    overview: dict[str, Any]
    version_quality: pl.DataFrame
    version_daily: pl.DataFrame
    version_pairs: pl.DataFrame
    version_paired: pl.DataFrame  # versions compared within requests (same prompts)
    weakest_unigrams: pl.DataFrame
    weakest_bigrams: pl.DataFrame
    weakest_clauses: pl.DataFrame
    attributes: pl.DataFrame
    funnel: pl.DataFrame
    position_bias: pl.DataFrame
    duration_bias: pl.DataFrame
    ingest_files: pl.DataFrame
    quarantine_reasons: pl.DataFrame
    lateness: pl.DataFrame
    late_events: int
    abnormal_viewers: pl.DataFrame
    registry: pl.DataFrame
    champion_metrics: dict[str, Any] | None
    champion_history: pl.DataFrame
    exports: pl.DataFrame  # recorded exports, newest first
    previous_run: PreviousRun | None = None  # the figures the previous report showed
    truth: TruthData | None = None
    config: ReportConfig = field(default_factory=ReportConfig)
    figures: list[dict[str, Any]] = field(
        default_factory=list
    )  # what this report shows (report_runs)
    label_diagnostics: pl.DataFrame = field(default_factory=pl.DataFrame)
    """The latest label run's truth-free checks: the label first, then every raw rate."""


@dataclass(frozen=True)
class TruthData:
    """Label quality against the simulator's hidden truth."""

    agreement: dict[str, Any]
    hist2d: np.ndarray
    by_label: pl.DataFrame
    by_model_version: pl.DataFrame
