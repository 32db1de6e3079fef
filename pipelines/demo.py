"""Demo: the whole loop on a simulated landing zone.

simulate -> ingest -> label (+ evaluation against the simulator's truth) -> train -> score ->
export -> report, each stage's result handed to `on_stage` as soon as the stage ends.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from features.export import ExportConfig
from landing.simulate import SimulationConfig
from models.training import MODEL_KINDS
from pipelines.evaluate import evaluate_labels
from pipelines.export import export_datasets
from pipelines.ingest import ingest
from pipelines.label import label
from pipelines.report import write_report
from pipelines.score import score_generations
from pipelines.simulate import simulate
from pipelines.steps import DIRECT, StepRunner
from pipelines.train import TrainConfig, train_models
from results.demo import DemoSummary
from warehouse.resource import Warehouse

StageListener = Callable[[Any], object]
"""Called with each stage's result as the stage ends (prints it, publishes an artifact...)."""


def ignore_stage(result: Any) -> None:
    """The default listener: nothing to do with a stage's result."""


def run_demo(
    out_dir: str,
    warehouse: Warehouse,
    requests: int = 2000,
    seed: int = 0,
    runner: StepRunner = DIRECT,
    on_stage: StageListener = ignore_stage,
) -> DemoSummary:
    """Run every stage of the loop in order on a fresh simulation of `requests` requests."""
    out = Path(out_dir)
    truth = str(out / "truth" / "generations.parquet")
    results: dict[str, Any] = {}

    def stage(name: str, result: Any) -> None:
        results[name] = result
        on_stage(result)

    config = SimulationConfig(requests=requests, seed=seed)
    # the demo owns its folder: a rerun replaces its previous simulation
    stage("simulate", simulate(str(out), config, runner, replace=True))
    stage("ingest", ingest(warehouse, str(out / "landing"), runner=runner))
    stage("label", label(warehouse, runner=runner))
    stage("evaluate", evaluate_labels(warehouse, truth, runner=runner))
    train_config = TrainConfig(kinds=MODEL_KINDS)
    stage("train", train_models(warehouse, train_config, truth, runner))
    stage("score", score_generations(warehouse, runner=runner))
    stage("export", export_datasets(warehouse, str(out / "datasets"), ExportConfig(), runner))
    stage("report", write_report(warehouse, str(out / "report"), truth, runner=runner))
    runner.log.info("demo finished: report at %s", results["report"].path)
    return DemoSummary(**results)
