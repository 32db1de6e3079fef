"""The choices the report makes: statistics on top of the views (`ReportConfig`) and what is drawn (`RenderConfig`)."""

from __future__ import annotations

from dataclasses import dataclass

from features.prompt_text import MIN_WORD_CHARS


@dataclass(frozen=True)
class ReportConfig:
    """Choices the report makes on top of the views: confidence, thresholds, bucket widths, table lengths."""

    confidence: float = 0.95
    family_alpha: float = 0.05
    ngram_min_generations: int = 30
    ngram_rows: int = 12
    ngram_min_word_chars: int = MIN_WORD_CHARS  # shorter words are fragments, not listed as n-grams
    attribute_max_values: int = 12
    max_position: int = 30
    duration_buckets: int = 10
    late_after_days: int = 1
    truth_bins: int = 25


@dataclass(frozen=True)
class RenderConfig:
    """Sizes and lengths of what is drawn."""

    figure_width_in: float = 8.0
    figure_height_in: float = 3.3
    png_dpi: int = 100
    registry_rows: int = 15
    history_rows: int = 20
    quarantine_reasons_rows: int = 20
    lateness_max_days: int = 14


DEFAULT_REPORT_CONFIG = ReportConfig()
DEFAULT_RENDER_CONFIG = RenderConfig()
