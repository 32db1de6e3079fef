"""`reelloop simulate`: write a simulated landing zone and its hidden ground truth (the demo's data source)."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

from prefect import flow, get_run_logger, task

from landing.simulate import SimulationConfig, simulate_landing_zone

DEFAULT_BASE_TIME = "2026-10-01T00:00:00Z"


def simulation_config(requests: int, seed: int, days: int, base_time: str) -> SimulationConfig:
    """The simulator config from command-line values; ValueError with a one-line message if one is bad."""
    try:
        base = datetime.fromisoformat(base_time)
    except ValueError:
        raise ValueError(f"--base-time must be an RFC 3339 timestamp, got {base_time!r}") from None
    if base.tzinfo is None:
        raise ValueError(
            f"--base-time needs a UTC offset (e.g. {DEFAULT_BASE_TIME}), got {base_time!r}"
        )
    return SimulationConfig(requests=requests, seed=seed, days=days, base_time=base)


@task(retries=2, retry_delay_seconds=[1, 5])
def write_landing_zone(out_dir: str, requests: int, seed: int, days: int, base_time: str) -> dict:
    """Write the files (deterministic and replacing the previous simulation's, so a retry is safe)."""
    config = simulation_config(requests, seed, days, base_time)
    return simulate_landing_zone(out_dir, config).as_dict()


@flow(name="simulate")
def simulate_flow(
    out_dir: str,
    requests: int = 2000,
    seed: int = 0,
    days: int = 14,
    base_time: str = DEFAULT_BASE_TIME,
) -> dict:
    """Simulate `requests` creator requests over `days` days into `out_dir`/landing and `out_dir`/truth."""
    logger = get_run_logger()
    summary = write_landing_zone(out_dir, requests, seed, days, base_time)
    logger.info(
        "simulated %d generations and %d event rows into %s",
        summary["generations"],
        summary["event_rows"],
        out_dir,
    )
    return summary


def run(args: argparse.Namespace) -> int:
    """CLI handler: validate the options, run the flow, print one summary line."""
    simulation_config(args.requests, args.seed, args.days, args.base_time)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out is a file, not a directory: {out}")
    summary = simulate_flow(
        out_dir=str(out),
        requests=args.requests,
        seed=args.seed,
        days=args.days,
        base_time=args.base_time,
    )
    files = sum(sum(per_format.values()) for per_format in summary["files"].values())
    print(
        f"simulated {summary['requests']} requests: {summary['generations']} generations, "
        f"{summary['event_rows']} event rows in {files} files under {out / 'landing'}; "
        f"truth in {out / 'truth'}"
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `simulate` verb."""
    parser = subparsers.add_parser(
        "simulate",
        help="write a simulated landing zone with hidden ground truth",
        description=(
            "Write DIR/landing/{generations,events} (JSON Lines, gzip, Parquet, CSV) with realistic noise "
            "and DIR/truth/*.parquet (true quality per generation, bot viewers, malformed rows). "
            "The same seed and options give byte-identical files."
        ),
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory")
    parser.add_argument(
        "--requests", type=int, default=2000, help="creator requests (default 2000)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--days", type=int, default=14, help="days of activity (default 14)")
    parser.add_argument(
        "--base-time",
        default=DEFAULT_BASE_TIME,
        help=f"start of the simulated window, RFC 3339 (default {DEFAULT_BASE_TIME})",
    )
    parser.set_defaults(handler=run)
