"""What a demo run did: every stage's result, in loop order."""

from __future__ import annotations

from dataclasses import dataclass

from landing.simulate import SimulationSummary
from results.export import ExportSummary
from results.ingest import IngestSummary
from results.label import LabelEvaluation, LabelSummary
from results.model import ScoreSummary, TrainSummary
from results.report import ReportSummary


@dataclass(frozen=True)
class DemoSummary:
    """The whole loop on a simulation: each stage's result."""

    simulate: SimulationSummary
    ingest: IngestSummary
    label: LabelSummary
    evaluate: LabelEvaluation
    train: TrainSummary
    score: ScoreSummary
    export: ExportSummary
    report: ReportSummary
