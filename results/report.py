"""What a report run wrote."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReportSummary:
    """The report page written: where, its size, and a few of its figures."""

    path: str
    bytes: int
    model_versions: int
    significant_pairs: int
    with_truth: bool
