"""Benchmark `label` against a plain DuckDB group-by over the same events, in the same process.

    python bench/label.py [--events 1000000 10000000] [--landing DIR] [--work DIR] [--seed 0]

For each size a landing zone is simulated (requests scaled from a small pilot run) and ingested into a
warehouse, outside the timed part; both are kept in --work and reused when present. Each measurement
runs in a fresh child process on a copy of that warehouse: the baseline
`select generation_id, event_type, count(*), sum(watch_ms) from events group by all` (best of
--repeat), then the full first label run (state rebuild, model fit, labels and pairs written), then a
rerun with nothing new. The child reports times and its peak resident memory. The modules the label
step imports only when it runs (`LABEL_MODULES`: kept out of the command line's start-up) are loaded
before the timed part: a one-off cost per process, not the label's work on the events.

It also times a floor: the two passes over the events that any label honouring the rules needs
even if everything else were free, each as lean as one query can be (best of --repeat). Bot rules
need per-viewer counts before generations are summed without the bots; the per-generation sums need
the generation record (creator, duration) to drop self-engagement and scale watch time.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASELINE_SQL = "select generation_id, event_type, count(*), sum(watch_ms) from events group by all"
FLOOR_SQL = {
    "per-viewer counts": (
        "select viewer_id, count(*), count(*) filter (where event_type = 'impression'), "
        "count(*) filter (where event_type = 'view'), count(*) filter (where event_type = 'like') "
        "from events group by viewer_id"
    ),
    "clean per-generation sums": (
        "with self_engagement as (select generation_id, creator_id as viewer_id, false as in_studio "
        "from generations), tagged as (select generation_id, viewer_id, event_type, watch_ms, "
        "coalesce(surface = 'studio', false) as in_studio from events) "
        "select generation_id, event_type, in_studio, count(*), sum(watch_ms), "
        "sum(least(watch_ms::double / generations.duration_ms, 2.0)) from tagged "
        "inner join generations using (generation_id) "
        "anti join self_engagement using (generation_id, viewer_id, in_studio) group by all"
    ),
}
LABEL_MODULES: tuple[str, ...] = (
    "features.abnormal_viewers",
    "features.engagement",
    "features.label_parameters",
    "features.label_pipeline",
    "features.labels",
    "features.stable_keys",
)
"""What `pipelines.label` imports inside its functions (with scipy's optimize and special, ~0.7 s)."""
PROJECT_PACKAGES: frozenset[str] = frozenset({"features", "models", "pipelines", "warehouse"})
"""A module of these first imported inside the timed run means `LABEL_MODULES` is out of date."""
PILOT_REQUESTS = 300
MAX_RATIO = 3.0
MAX_PEAK_GB = 3.0


def simulate_and_ingest(out_dir: Path, requests: int, seed: int) -> Path:
    """Simulate `requests` into out_dir/sim and ingest it into out_dir/warehouse.duckdb (reused if present)."""
    from landing.simulate import SimulationConfig, simulate_landing_zone

    db = out_dir / "warehouse.duckdb"
    if db.is_file():
        return db
    landing = out_dir / "sim" / "landing"
    if not landing.is_dir():
        started = time.perf_counter()
        simulate_landing_zone(out_dir / "sim", SimulationConfig(requests=requests, seed=seed))
        print(
            f"  simulated {requests} requests in {time.perf_counter() - started:.0f} s", flush=True
        )
    ingest(landing, db)
    return db


def ingest(landing: Path, db: Path) -> None:
    """Load a landing zone into a new warehouse file (written beside it, then renamed)."""
    from warehouse.connection import connect
    from warehouse.ingest import ingest_landing_zone

    partial = db.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    started = time.perf_counter()
    con = connect(partial)
    try:
        ingest_landing_zone(con, landing)
        con.execute("checkpoint").fetchall()
    finally:
        con.close()
    partial.rename(db)
    print(f"  ingested {landing} in {time.perf_counter() - started:.0f} s", flush=True)


def events_per_request(work: Path, seed: int) -> float:
    """Ingested events per simulated request, from a small pilot simulation."""
    from warehouse.connection import connect

    db = simulate_and_ingest(work / f"pilot_{PILOT_REQUESTS}", PILOT_REQUESTS, seed)
    con = connect(db, read_only=True)
    try:
        events = con.execute("select count(*) from events").fetchall()[0][0]
    finally:
        con.close()
    return events / PILOT_REQUESTS


def best_seconds(con: object, sql: str, repeat: int) -> float:
    """The fastest of `repeat` runs of `sql`, fetched into polars."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        con.sql(sql).pl()  # type: ignore[attr-defined]
        times.append(time.perf_counter() - started)
    return min(times)


def measure(db: Path, repeat: int) -> dict[str, float]:
    """(child process) Baseline group-by, full label run, no-op rerun on a copy of the warehouse."""
    from pipelines.label import label
    from warehouse.connection import connect
    from warehouse.resource import Warehouse

    for module in LABEL_MODULES:
        importlib.import_module(module)
    copy = db.with_name("measured.duckdb")
    shutil.copyfile(db, copy)
    con = connect(copy)
    try:
        events = con.execute("select count(*) from events").fetchall()[0][0]
        generations = con.execute("select count(*) from generations").fetchall()[0][0]
        con.execute("select count(*), sum(watch_ms) from events").fetchall()  # warm the cache
        baseline = [best_seconds(con, BASELINE_SQL, repeat)]
        floor = {name: best_seconds(con, sql, repeat) for name, sql in FLOOR_SQL.items()}
        loaded = set(sys.modules)
        started = time.perf_counter()
        summary = label(Warehouse.in_memory(con))
        label_seconds = time.perf_counter() - started
        timed_imports = set(sys.modules) - loaded
        started = time.perf_counter()
        rerun = label(Warehouse.in_memory(con))
        rerun_seconds = time.perf_counter() - started
        started = time.perf_counter()
        con.sql(BASELINE_SQL).pl()
        baseline.append(time.perf_counter() - started)
    finally:
        con.close()
        copy.unlink(missing_ok=True)
        Path(f"{copy}.wal").unlink(missing_ok=True)
    return {
        "events": events,
        "generations": generations,
        "baseline_seconds": min(baseline),
        "floor_seconds": sum(floor.values()),
        **{f"floor {name}": seconds for name, seconds in floor.items()},
        "label_seconds": label_seconds,
        "rerun_seconds": rerun_seconds,
        "rerun_labels_written": float(rerun.labels_written),
        "labels": float(summary.labels or 0),
        "pairs": float(summary.pairs or 0),
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
        "project_modules_imported_while_timed": float(
            sum(m.split(".")[0] in PROJECT_PACKAGES for m in timed_imports)
        ),
    }


def measure_in_child(db: Path, repeat: int) -> dict[str, float]:
    """Run `measure` in a fresh interpreter so its peak memory is its own."""
    out = subprocess.run(
        [sys.executable, __file__, "--measure", str(db), "--repeat", str(repeat)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def report(name: str, result: dict[str, float]) -> bool:
    """Print one measurement; True when it meets the ratio and memory limits."""
    ratio = result["label_seconds"] / result["baseline_seconds"]
    floor = result["floor_seconds"] / result["baseline_seconds"]
    floor_parts = " + ".join(
        f"{name[len('floor ') :]} {seconds:.2f} s"
        for name, seconds in result.items()
        if name.startswith("floor ")
    )
    ok = ratio <= MAX_RATIO and result["peak_rss_gb"] < MAX_PEAK_GB
    late = result.get("project_modules_imported_while_timed", 0.0)
    late_imports = (
        f"  {late:.0f} project modules were first imported inside the timed run: add them to "
        "LABEL_MODULES\n"
        if late
        else ""
    )
    print(
        f"{name}: {result['events']:,} events, {result['generations']:,} generations | "
        f"group-by {result['baseline_seconds']:.2f} s | label {result['label_seconds']:.2f} s "
        f"(ratio {ratio:.2f}x, limit {MAX_RATIO}x) | rerun {result['rerun_seconds']:.2f} s "
        f"({result['rerun_labels_written']:.0f} rows written) | peak RSS {result['peak_rss_gb']:.2f} GB | "
        f"{result['labels']:.0f} labels, {result['pairs']:.0f} pairs | {'ok' if ok else 'OVER LIMIT'}\n"
        f"{late_imports}"
        f"  floor (two lean passes every label needs): {floor_parts} = {floor:.2f}x the group-by",
        flush=True,
    )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument(
        "--landing", type=Path, help="benchmark this landing zone instead of simulating"
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=Path(tempfile.gettempdir()) / "reelloop-bench-label",
        help="where simulations and warehouses are kept between runs",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3, help="baseline runs (best is kept)")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure, args.repeat)))
        return 0
    args.work.mkdir(parents=True, exist_ok=True)
    ok = True
    if args.landing:
        db = args.work / f"{args.landing.resolve().name}.duckdb"
        if not db.is_file():
            ingest(args.landing, db)
        return 0 if report(str(args.landing), measure_in_child(db, args.repeat)) else 1
    per_request = events_per_request(args.work, args.seed)
    for target in args.events:
        requests = max(1, math.ceil(target / per_request))
        print(
            f"{target:,} events: simulating {requests} requests ({per_request:.0f} events per request)",
            flush=True,
        )
        db = simulate_and_ingest(args.work / f"events_{target}", requests, args.seed)
        ok = report(f"{target:,} events", measure_in_child(db, args.repeat)) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
