"""The demo flow: `pipelines.demo` (the whole loop on a simulation) with each step a Prefect task
and each stage's artifacts published as the stage ends."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect import flow

from flows.artifacts import publish_stage_artifacts
from flows.locking import warehouse_at
from flows.runner import PrefectRunner
from pipelines.demo import run_demo
from results.demo import DemoSummary


@flow(name="demo", validate_parameters=False)
def demo_flow(
    out_dir: str,
    db_path: str,
    requests: int = 2000,
    seed: int = 0,
    on_stage: Callable[[Any], object] | None = None,
) -> DemoSummary:
    """Run every stage of the loop in order on a fresh simulation; returns each stage's result.
    `on_stage` (in-process callers, e.g. the command line printing) also hears each stage end."""

    def stage_ended(result: Any) -> None:
        publish_stage_artifacts(result)
        if on_stage is not None:
            on_stage(result)

    return run_demo(out_dir, warehouse_at(db_path), requests, seed, PrefectRunner(), stage_ended)
