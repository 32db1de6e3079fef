"""What a label run did, and how labels compare with a simulation's truth."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl


@dataclass(frozen=True)
class LabelSummary:
    """A label run: what was re-aggregated, written and refit (counts of the current state when
    labels were computed)."""

    label_version: str
    up_to_date: bool
    full_rebuild: bool
    generations_reaggregated: int
    abnormal_viewers: int
    labels_written: int = 0
    pairs_added: int = 0
    pairs_removed: int = 0
    model_refit: bool = False
    examination_refit: bool = False
    event_pass_workers: tuple[str, ...] = ()
    labels: int | None = None
    """Current labels after the run (None when nothing was computed)."""
    pairs: int | None = None
    label_counts: dict[str, int] = field(default_factory=dict)
    """Current labels per label value (good / bad / uncertain)."""
    pair_counts: dict[str, int] = field(default_factory=dict)
    """Current pairs per source (sibling / select / regenerate / cross)."""
    diagnostics: pl.DataFrame | None = None
    """The run's truth-free checks (features.label_diagnostics): the label, then every raw rate."""
    warning: str | None = None
    """Set when the label does worse than a raw rate on a diagnostic (what and by how much)."""


@dataclass(frozen=True)
class LabelEvaluation:
    """Labels against a simulation's truth: Spearman by scope beside naive rates, and pair
    agreement by source and confidence band."""

    ranks: pl.DataFrame
    pairs: pl.DataFrame
