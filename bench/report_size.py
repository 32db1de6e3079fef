"""Benchmark: the report's HTML stays small (< 5 MB) whatever the data size.

Runs the whole loop (simulate -> ingest -> label -> train -> report) twice in this process: a small
reference run and a large one (default about 1M event rows), then prints the HTML size and report time of
each and their ratios. Exits 1 when the large report reaches the size bound.

    .venv/bin/python bench/report_size.py --events 1000000
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

MAX_REPORT_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class LoopRun:
    """What one loop run produced."""

    requests: int
    events: int
    generations: int
    html_bytes: int
    report_seconds: float
    loop_seconds: float


def run_loop(root: Path, requests: int, seed: int, train: bool) -> LoopRun:
    """simulate -> ingest -> label -> (train) -> report under `root`; returns sizes and timings."""
    from flows.ingest import ingest_flow
    from flows.label import label_flow
    from flows.model import train_flow
    from flows.report import report_flow
    from landing.simulate import SimulationConfig, simulate_landing_zone
    from warehouse.connection import connect

    started = time.perf_counter()
    simulate_landing_zone(str(root / "sim"), SimulationConfig(requests=requests, seed=seed))
    db = str(root / "w.duckdb")
    truth = str(root / "sim" / "truth" / "generations.parquet")
    ingest_flow(db_path=db, landing_dir=str(root / "sim" / "landing"))
    label_flow(db_path=db)
    if train:
        train_flow(db_path=db, truth_path=truth)
    report_started = time.perf_counter()
    summary = report_flow(db_path=db, out_dir=str(root / "report"), truth_path=truth)
    finished = time.perf_counter()
    con = connect(db, read_only=True)
    try:
        events, generations = con.execute(
            "select (select count(*) from events), (select count(*) from generations)"
        ).fetchall()[0]
    finally:
        con.close()
    return LoopRun(
        requests=requests,
        events=int(events),
        generations=int(generations),
        html_bytes=int(summary.bytes),
        report_seconds=finished - report_started,
        loop_seconds=finished - started,
    )


def requests_for(events: int, events_per_request: float) -> int:
    return max(20, math.ceil(events / events_per_request))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--events", type=int, default=1_000_000, help="target event rows of the large run"
    )
    parser.add_argument(
        "--reference-events",
        type=int,
        default=50_000,
        help="target event rows of the reference run",
    )
    parser.add_argument(
        "--events-per-request",
        type=float,
        default=470.0,
        help="simulator event rows per request, to size the runs (measured: about 470)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--no-train", action="store_true", help="skip training (the model section stays empty)"
    )
    parser.add_argument(
        "--workdir", default=None, help="keep the runs here (default: a temporary folder)"
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="reelloop-report-bench-") as scratch:
        base = Path(args.workdir) if args.workdir else Path(scratch)
        runs = {}
        for name, target in (("reference", args.reference_events), ("large", args.events)):
            runs[name] = run_loop(
                base / name,
                requests_for(target, args.events_per_request),
                args.seed,
                not args.no_train,
            )
            r = runs[name]
            print(
                f"{name:9s} requests={r.requests:,} events={r.events:,} generations={r.generations:,} "
                f"html={r.html_bytes:,} B report={r.report_seconds:.1f} s loop={r.loop_seconds:.1f} s",
                flush=True,
            )
    reference, large = runs["reference"], runs["large"]
    print(
        f"ratio large/reference: events x{large.events / reference.events:.1f}, "
        f"html x{large.html_bytes / reference.html_bytes:.2f}, "
        f"report time x{large.report_seconds / reference.report_seconds:.1f}"
    )
    if large.html_bytes >= MAX_REPORT_BYTES:
        print(
            f"FAIL: report is {large.html_bytes:,} B, bound {MAX_REPORT_BYTES:,} B", file=sys.stderr
        )
        return 1
    print(f"ok: {large.html_bytes / 1024 / 1024:.2f} MB < {MAX_REPORT_BYTES / 1024 / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
