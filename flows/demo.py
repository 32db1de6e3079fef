"""`reelloop demo`: the whole loop on a simulated landing zone, as far as it is built."""

from __future__ import annotations

import argparse
from pathlib import Path

from prefect import flow, get_run_logger

from flows.simulate import simulate_flow


@flow(name="demo")
def demo_flow(out_dir: str, db_path: str, requests: int = 2000, seed: int = 0) -> dict:
    """Simulate, then run each stage of the loop in order; returns each stage's summary."""
    logger = get_run_logger()
    out = Path(out_dir)
    summaries: dict[str, object] = {"simulate": simulate_flow(str(out), requests=requests, seed=seed)}
    logger.info("simulated landing zone in %s", out / "landing")
    return summaries


def run(args: argparse.Namespace) -> int:
    summaries = demo_flow(args.out, args.db, requests=args.requests, seed=args.seed)
    for stage, summary in summaries.items():
        print(f"== {stage}: {summary}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="run the whole loop on a simulated landing zone (simulate -> ... -> report)"
    )
    parser.add_argument("--out", required=True, help="folder for the landing zone, exports, report")
    parser.add_argument("--requests", type=int, default=2000, help="simulated creator requests")
    parser.add_argument("--seed", type=int, default=0, help="simulation seed")
    parser.set_defaults(handler=run)
