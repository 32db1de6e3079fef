"""The demo flow: `pipelines.demo` (the whole loop on a simulation) with each step a Prefect task
and each stage's artifacts published as the stage ends."""

from __future__ import annotations

from prefect import flow

from flows.artifacts import publish_stage_artifacts
from flows.locking import warehouse_at
from flows.runner import PrefectRunner
from pipelines.demo import run_demo
from results.demo import DemoSummary


@flow(name="demo")
def demo_flow(out_dir: str, db_path: str, requests: int = 2000, seed: int = 0) -> DemoSummary:
    """Run every stage of the loop in order on a fresh simulation; returns each stage's result."""
    return run_demo(
        out_dir, warehouse_at(db_path), requests, seed, PrefectRunner(), publish_stage_artifacts
    )
