"""Scale run: ingest + label of simulated landing zones, local runner vs a Dask cluster, by size.

    python bench/scale.py [--events 1000000 10000000] [--with-100m] [--workers 2] [--work DIR]

For each size a landing zone is simulated (requests scaled from a small pilot; kept in --work and
reused), then each runner runs in a fresh child process on a new warehouse: the `ingest` flow
then the `label` flow (a full first run), under an ephemeral Prefect API. The Dask run starts a
`distributed.LocalCluster` of --workers worker processes (one thread each) and passes its address
to the flows, as `reelloop --runner dask --dask-address ...` does. Printed per size and runner:
seconds of ingest and label, events per second, peak resident memory of the coordinator and of the
largest worker; then the growth exponent b of time ~ events^b (least squares over the sizes; 1 is
linear). Both runners must give the same label counts (checked).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PILOT_REQUESTS = 300
HUNDRED_MILLION = 100_000_000


def simulate(out_dir: Path, requests: int, seed: int) -> Path:
    """Simulate `requests` into out_dir (reused when present); returns the landing zone."""
    from landing.simulate import SimulationConfig, simulate_landing_zone

    landing = out_dir / "landing"
    done = out_dir / "simulated.ok"
    if not done.is_file():
        shutil.rmtree(out_dir, ignore_errors=True)
        started = time.perf_counter()
        simulate_landing_zone(out_dir, SimulationConfig(requests=requests, seed=seed))
        done.write_text(str(requests))
        print(
            f"  simulated {requests} requests in {time.perf_counter() - started:.0f} s", flush=True
        )
    return landing


def events_per_request(work: Path, seed: int) -> float:
    """Event records written per simulated request, from a small pilot simulation."""
    landing = simulate(work / f"pilot_{PILOT_REQUESTS}", PILOT_REQUESTS, seed)
    import polars as pl

    events = 0
    for path in sorted((landing / "events").rglob("*")):
        if path.suffix == ".parquet":
            events += pl.scan_parquet(path).select(pl.len()).collect().item()
        elif path.is_file():
            opener = __import__("gzip").open if path.suffix == ".gz" else open
            with opener(path, "rb") as handle:
                events += sum(1 for _ in handle) - (1 if ".csv" in path.name else 0)
    return events / PILOT_REQUESTS


def peak_rss_gb() -> float:
    """Peak resident memory of this process (GB; Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def measure(landing: Path, db: Path, runner: str, workers: int) -> dict[str, object]:
    """(child process) ingest then label `landing` into a new warehouse with one runner."""
    import logging

    from prefect.testing.utilities import prefect_test_harness

    from flows.ingest import ingest_flow
    from flows.label import label_flow
    from flows.runner import task_runner_for

    logging.getLogger("prefect").setLevel(logging.WARNING)
    cluster = client = None
    address = None
    if runner == "dask":
        from distributed import Client, LocalCluster

        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
        address = cluster.scheduler_address
    try:
        with prefect_test_harness():
            task_runner = task_runner_for(runner, address)
            started = time.perf_counter()
            ingested = ingest_flow.with_options(task_runner=task_runner)(
                landing_dir=str(landing), db_path=str(db)
            )
            ingest_seconds = time.perf_counter() - started
            started = time.perf_counter()
            labeled = label_flow.with_options(task_runner=task_runner)(db_path=str(db))
            label_seconds = time.perf_counter() - started
        worker_peaks = list(client.run(peak_rss_gb).values()) if client is not None else [0.0]
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    return {
        "events": ingested.by_kind["events"].rows_loaded,
        "rows_read": ingested.total.rows_read,
        "ingest_seconds": ingest_seconds,
        "label_seconds": label_seconds,
        "labels": labeled.labels,
        "pairs": labeled.pairs,
        "workers_used": len(labeled.get("event_pass_workers", [])),
        "coordinator_peak_gb": peak_rss_gb(),
        "worker_peak_gb": max(worker_peaks),
    }


def measure_in_child(landing: Path, work: Path, runner: str, workers: int) -> dict:
    """Run `measure` in a fresh interpreter on a new warehouse (removed afterwards)."""
    db = work / f"{runner}.duckdb"
    for leftover in work.glob(f"{runner}.duckdb*"):
        shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
    try:
        out = subprocess.run(
            [sys.executable, __file__, "--measure", str(landing), str(db), runner, str(workers)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        for leftover in work.glob(f"{runner}.duckdb*"):
            shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
    return json.loads(out.strip().splitlines()[-1])


def growth_exponent(sizes: list[float], seconds: list[float]) -> float | None:
    """Least-squares slope of log(seconds) on log(size); None with fewer than two sizes."""
    if len(sizes) < 2:
        return None
    xs, ys = [math.log(s) for s in sizes], [math.log(t) for t in seconds]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )


def row(runner: str, result: dict) -> str:
    """One printed line of a measurement."""
    total = result["ingest_seconds"] + result["label_seconds"]
    return (
        f"  {runner:5s} | {result['events']:>12,} events | ingest {result['ingest_seconds']:7.1f} s "
        f"({result['rows_read'] / result['ingest_seconds']:>9,.0f} rows/s) | label "
        f"{result['label_seconds']:6.1f} s | total {total:7.1f} s ({result['events'] / total:>9,.0f} "
        f"events/s) | peak RSS coordinator {result['coordinator_peak_gb']:.2f} GB, worker "
        f"{result['worker_peak_gb']:.2f} GB | {result['labels']:,} labels"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--with-100m", action="store_true", help="add a 100M-event size")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--runners", nargs="+", default=["local", "dask"])
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "reelloop-bench-scale"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--measure", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        landing, db, runner, workers = args.measure
        print(json.dumps(measure(Path(landing), Path(db), runner, int(workers))))
        return 0
    sizes = sorted(set(args.events + ([HUNDRED_MILLION] if args.with_100m else [])))
    args.work.mkdir(parents=True, exist_ok=True)
    per_request = events_per_request(args.work, args.seed)
    results: dict[str, list[dict]] = {runner: [] for runner in args.runners}
    ok = True
    for target in sizes:
        requests = max(1, math.ceil(target / per_request))
        print(f"{target:,} events: {requests} requests ({per_request:.0f} events each)", flush=True)
        size_dir = args.work / f"events_{target}"
        landing = simulate(size_dir / "sim", requests, args.seed)
        for runner in args.runners:
            result = measure_in_child(landing, size_dir, runner, args.workers)
            results[runner].append(result)
            print(row(runner, result), flush=True)
        counts = {(r[-1]["labels"], r[-1]["pairs"]) for r in results.values()}
        if len(counts) != 1:
            print(f"  MISMATCH between runners: labels, pairs = {sorted(counts)}", flush=True)
            ok = False
    print("growth exponent b of time ~ events^b:")
    for runner, runs in results.items():
        sizes_seen = [float(r["events"]) for r in runs]
        for phase in ("ingest_seconds", "label_seconds"):
            b = growth_exponent(sizes_seen, [float(r[phase]) for r in runs])
            shown = "n/a (one size)" if b is None else f"{b:.2f}"
            print(f"  {runner:5s} {phase.removesuffix('_seconds'):6s} b = {shown}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
