"""`reelloop simulate` and `reelloop import-kuairand`: write landing zones."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from cli.flows import run_stage
from cli.output import print_result
from pipelines.simulate import DEFAULT_BASE_TIME

if TYPE_CHECKING:
    from landing.kuairand import ImportSummary
    from landing.simulate import SimulationSummary


def run_simulate(args: argparse.Namespace) -> int:
    """Handler of `reelloop simulate`: validate the options, run the flow, print one line."""
    from pipelines.simulate import refuse_existing_simulation, simulate, simulation_config

    config = simulation_config(args.requests, args.seed, args.days, args.base_time)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out is a file, not a directory: {out}")
    if not args.force:
        refuse_existing_simulation(str(out))
    summary = run_stage(
        args,
        "flows.simulate:simulate_flow",
        lambda runner: simulate(str(out), config, runner, replace=args.force),
        pick_task_runner=False,
        out_dir=str(out),
        requests=args.requests,
        seed=args.seed,
        days=args.days,
        base_time=args.base_time,
        force=args.force,
    )
    print_result(args, summary, lambda done: format_simulation(done, out))
    return 0


def format_simulation(summary: SimulationSummary, out: Path) -> str:
    """What `reelloop simulate` prints."""
    return (
        f"simulated {summary.requests} requests: {summary.generations} generations, "
        f"{summary.event_rows} event rows in {len(summary.files)} files under {out / 'landing'}; "
        f"truth in {out / 'truth'}"
    )


def run_import(args: argparse.Namespace) -> int:
    """Handler of `reelloop import-kuairand`: check the input, run the flow, print the counts."""
    from landing.kuairand import source_columns
    from pipelines.kuairand import import_kuairand

    # Checked before the flow starts so a wrong path is a one-line error, not a failed run.
    source_columns(args.csv)
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise NotADirectoryError(f"--out is not a directory: {args.out}")
    summary = run_stage(
        args,
        "flows.simulate:import_kuairand_flow",
        lambda runner: import_kuairand(str(args.csv), str(args.out), runner=runner),
        pick_task_runner=False,
        csv_path=str(args.csv),
        out_dir=str(args.out),
    )
    print_result(args, summary, lambda done: format_import(done, args.out))
    return 0


def format_import(summary: ImportSummary, out: Path) -> str:
    """What `reelloop import-kuairand` prints: rows per event type and generations."""
    lines = [f"KuaiRand import: {summary.source_rows} source rows -> {out}"]
    lines += [f"  {event_type:<11} {count:>10}" for event_type, count in summary.events.items()]
    lines.append(f"  {'events':<11} {sum(summary.events.values()):>10}")
    lines.append(f"  {'generations':<11} {summary.generations:>10}")
    return "\n".join(lines)


def register_simulate(subparsers: argparse._SubParsersAction) -> None:
    """Add the `simulate` verb."""
    parser = subparsers.add_parser(
        "simulate",
        help="write a simulated landing zone with hidden ground truth",
        description=(
            "Write DIR/landing/{generations,events} (JSON Lines, gzip, Parquet, CSV) with realistic noise "
            "and DIR/truth/*.parquet (true quality per generation, bot viewers, malformed rows). "
            "The same seed and options give byte-identical files; ids depend on the seed, so "
            "simulations of different seeds never collide in one warehouse. A DIR that already "
            "holds a simulation is refused unless --force."
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
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace a simulation already in DIR (its landing files and truth)",
    )
    parser.set_defaults(handler=run_simulate)


def register_import(subparsers: argparse._SubParsersAction) -> None:
    """Add the `import-kuairand` verb."""
    parser = subparsers.add_parser(
        "import-kuairand",
        help="map a KuaiRand log CSV onto the event contract, as a landing zone",
        description=(
            "Read a KuaiRand standard log CSV (KuaiRand, Gao et al. CIKM 2022, CC BY-SA 4.0) and "
            "write it as a reelloop landing zone: LANDING_DIR/events/ (Parquet, one file per UTC "
            "day and event type: impression, view, like, comment, share, dislike) and "
            "LANDING_DIR/generations/ (one record per video, training_consent = false). "
            "Rerunning on the same CSV rewrites the same files byte for byte."
        ),
    )
    parser.add_argument("csv", type=Path, help="KuaiRand log CSV (e.g. log_standard_*.csv)")
    parser.add_argument(
        "--out", required=True, type=Path, metavar="LANDING_DIR", help="landing zone root"
    )
    parser.set_defaults(handler=run_import)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `simulate` and `import-kuairand` verbs."""
    register_simulate(subparsers)
    register_import(subparsers)
