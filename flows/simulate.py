"""The simulate and import-kuairand flows: `pipelines.simulate` and `pipelines.kuairand` with
each step a Prefect task."""

from __future__ import annotations

from prefect import flow

from flows.runner import PrefectRunner
from landing.kuairand import ImportSummary
from landing.simulate import SimulationSummary
from pipelines.kuairand import import_kuairand
from pipelines.simulate import DEFAULT_BASE_TIME, simulate, simulation_config


@flow(name="simulate")
def simulate_flow(
    out_dir: str,
    requests: int = 2000,
    seed: int = 0,
    days: int = 14,
    base_time: str = DEFAULT_BASE_TIME,
    force: bool = False,
) -> SimulationSummary:
    """Simulate `requests` creator requests over `days` days into `out_dir`/landing and
    `out_dir`/truth (a previous simulation there is replaced only with `force`)."""
    config = simulation_config(requests, seed, days, base_time)
    return simulate(out_dir, config, PrefectRunner(), replace=force)


@flow(name="import-kuairand")
def import_kuairand_flow(csv_path: str, out_dir: str) -> ImportSummary:
    """Map a KuaiRand standard-log CSV onto the event contract, into the landing zone out_dir."""
    return import_kuairand(csv_path, out_dir, runner=PrefectRunner())
