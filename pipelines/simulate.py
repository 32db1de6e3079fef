"""Simulate: write a simulated landing zone and its hidden ground truth (the demo's data source)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from landing.simulate import (
    SimulationConfig,
    SimulationSummary,
    previous_simulation_files,
    simulate_landing_zone,
)
from pipelines.steps import DIRECT, IO_RETRY, StepRunner, step

DEFAULT_BASE_TIME = SimulationConfig().base_time.isoformat().replace("+00:00", "Z")


def simulation_config(requests: int, seed: int, days: int, base_time: str) -> SimulationConfig:
    """The simulator config from plain values; ValueError with a one-line message if one is bad."""
    try:
        base = datetime.fromisoformat(base_time)
    except ValueError:
        raise ValueError(f"--base-time must be an RFC 3339 timestamp, got {base_time!r}") from None
    if base.tzinfo is None:
        raise ValueError(
            f"--base-time needs a UTC offset (e.g. {DEFAULT_BASE_TIME}), got {base_time!r}"
        )
    return SimulationConfig(requests=requests, seed=seed, days=days, base_time=base)


def refuse_existing_simulation(out_dir: str) -> None:
    """FileExistsError (one line) when `out_dir` already holds a simulation: replacing it would
    delete its truth, so it takes an explicit `replace` (`reelloop simulate --force`)."""
    found = previous_simulation_files(Path(out_dir))
    if found:
        raise FileExistsError(
            f"{out_dir} already holds a simulation ({len(found)} files, e.g. "
            f"{found[0].relative_to(out_dir)}); --force replaces it, truth included"
        )


@step(IO_RETRY)
def write_landing_zone(out_dir: str, config: SimulationConfig) -> SimulationSummary:
    """Write the files (deterministic and replacing the previous simulation's, so a retry is safe)."""
    return simulate_landing_zone(out_dir, config)


def simulate(
    out_dir: str, config: SimulationConfig, runner: StepRunner = DIRECT, *, replace: bool = False
) -> SimulationSummary:
    """Simulate `config.requests` creator requests into `out_dir`/landing and `out_dir`/truth;
    a previous simulation there is replaced only with `replace`, else FileExistsError."""
    if not replace:
        refuse_existing_simulation(out_dir)
    summary = runner.run(write_landing_zone, out_dir, config)
    runner.log.info(
        "simulated %d generations and %d event rows into %s",
        summary.generations,
        summary.event_rows,
        out_dir,
    )
    return summary
