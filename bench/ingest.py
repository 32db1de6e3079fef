"""Ingest throughput against DuckDB's bare Parquet load, with peak memory of each.

Generates N contract-valid events (plus ~2% duplicate deliveries and ~0.3% invalid rows) as K files in a temp
landing zone, then times, each in its own subprocess on a fresh database file:
  (a) reelloop ingest (`warehouse.ingest.ingest_landing_zone`: validate, dedup, quarantine, load);
  (b) DuckDB `create table t as select * from read_parquet(...)` of the same files (no checks).
Prints both rates (events/s), the ratio a/b and each phase's peak RSS.

    python bench/ingest.py --events 1000000 --files 10
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

EVENT_TYPES = np.array(["impression", "view", "like", "share", "download", "select", "regenerate", "report"])
EVENT_TYPE_WEIGHTS = np.array([0.55, 0.3, 0.06, 0.02, 0.02, 0.02, 0.02, 0.01])
SURFACES = np.array(["feed", "studio", "profile", "search", "share"])
START_MS = 1_714_521_600_000  # 2024-05-01T00:00:00Z


@dataclass(frozen=True)
class BenchConfig:
    """Size and shape of the synthetic landing zone."""

    events: int = 10_000_000
    files: int = 10
    file_format: str = "parquet"
    duplicate_rate: float = 0.02
    invalid_rate: float = 0.003
    generations: int = 200_000
    viewers: int = 1_000_000
    seed: int = 7


def prefixed(prefix: str, numbers: np.ndarray) -> pa.Array:
    """Vectorised string ids: prefix + decimal number."""
    return pc.binary_join_element_wise(prefix, pc.cast(pa.array(numbers), pa.string()), "")


def event_table(first: int, rows: int, config: BenchConfig, rng: np.random.Generator) -> pa.Table:
    """Rows [first, first + rows) of the synthetic event stream; duplicates repeat an earlier event exactly."""
    index = np.arange(first, first + rows, dtype=np.int64)
    duplicate = rng.random(rows) < config.duplicate_rate
    index[duplicate] = (rng.random(int(duplicate.sum())) * np.maximum(index[duplicate], 1)).astype(np.int64)
    # every field is a function of the event index, so a duplicate delivery is the identical record
    mix = ((index.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(1)).astype(np.int64)
    event_type = EVENT_TYPES[np.searchsorted(np.cumsum(EVENT_TYPE_WEIGHTS), (mix % 10_000) / 10_000, side="right")]
    is_view = event_type == "view"
    occurred_ms = START_MS + index * 50 + mix % 1000
    watch_ms = np.where(is_view, mix % 60_000, 0)
    position = (mix >> 20) % 50
    surface = SURFACES[(mix >> 30) % len(SURFACES)]

    invalid = rng.random(rows) < config.invalid_rate
    breakage = rng.integers(0, 4, rows)
    event_type = np.where(invalid & (breakage == 0), "zap", event_type)
    watch_ms = np.where(invalid & (breakage == 1), -5, watch_ms)
    occurred_ms = np.where(invalid & (breakage == 2), START_MS + 10 * 365 * 86_400_000 * 10, occurred_ms)
    viewer = prefixed("v", (mix >> 8) % config.viewers)
    viewer = pc.if_else(pa.array(invalid & (breakage == 3)), pa.scalar(""), viewer)

    occurred = pa.array(occurred_ms, pa.int64())
    if config.file_format == "parquet":
        occurred = occurred.cast(pa.timestamp("ms", tz="UTC"))
    return pa.table({
        "event_id": prefixed("e", index),
        "event_type": pa.array(event_type),
        "generation_id": prefixed("g", (mix >> 4) % config.generations),
        "viewer_id": viewer,
        "occurred_at": occurred,
        "surface": pa.array(surface),
        "position": pa.array(position.astype(np.int32)),
        "watch_ms": pa.array(watch_ms, mask=~is_view & ~(invalid & (breakage == 1))),
        "session_id": prefixed("s", index // 20),
        "app_version": pa.array(np.full(rows, "5.2.1")),
    })


def write_landing_zone(root: Path, config: BenchConfig) -> int:
    """Write config.files event files under root/events; returns the number of rows written."""
    import duckdb

    events_dir = root / "events"
    events_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(config.seed)
    bounds = np.linspace(0, config.events, config.files + 1).astype(np.int64)
    for part, (first, last) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        table = event_table(int(first), int(last - first), config, rng)
        if config.file_format == "parquet":
            pq.write_table(table, events_dir / f"part-{part:04d}.parquet")
        else:
            con = duckdb.connect()
            con.register("part", table)
            con.execute("copy part to ? (format json)", [str(events_dir / f"part-{part:04d}.jsonl")])
            con.close()
    return int(bounds[-1])


def run_ingest(landing: Path, db_path: Path, memory_limit: str, threads: int | None) -> dict[str, float]:
    """Phase (a): reelloop ingest into a fresh warehouse."""
    from warehouse.connection import connect
    from warehouse.ingest import IngestRules, ingest_landing_zone

    con = connect(db_path)
    started = time.perf_counter()
    files = ingest_landing_zone(con, landing, IngestRules(memory_limit=memory_limit, threads=threads))
    seconds = time.perf_counter() - started
    con.close()
    return {
        "seconds": seconds,
        "rows_read": sum(f.rows_read for f in files),
        "rows_loaded": sum(f.rows_loaded for f in files),
        "rows_duplicate": sum(f.rows_duplicate for f in files),
        "rows_quarantined": sum(f.rows_quarantined for f in files),
    }


def run_baseline(landing: Path, db_path: Path, memory_limit: str, threads: int | None) -> dict[str, float]:
    """Phase (b): DuckDB loads the same Parquet rows into a table, no checks."""
    import duckdb

    con = duckdb.connect(str(db_path))
    con.execute("set memory_limit = ?", [memory_limit])
    if threads is not None:
        con.execute("set threads = ?", [threads])
    files = sorted(str(p) for p in (landing / "events").glob("*.parquet"))
    started = time.perf_counter()
    con.execute("create table t as select * from read_parquet(?)", [files])
    seconds = time.perf_counter() - started
    rows = con.execute("select count(*) from t").fetchone()
    con.close()
    return {"seconds": seconds, "rows_read": rows[0] if rows else 0}


def run_phase(phase: str, landing: Path, db_path: Path, memory_limit: str, threads: int | None) -> dict:
    """Run one phase in a child process; its result plus the child's peak RSS in MB."""
    command = [
        sys.executable, __file__, "--phase", phase, "--landing", str(landing), "--db", str(db_path),
        "--memory-limit", memory_limit,
    ]
    if threads is not None:
        command += ["--threads", str(threads)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def phase_main(args: argparse.Namespace) -> None:
    """Child process entry: run the phase, print its result and own peak RSS as one JSON line."""
    runner = {"ingest": run_ingest, "baseline": run_baseline}[args.phase]
    result = runner(Path(args.landing), Path(args.db), args.memory_limit, args.threads)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000, help="events to generate (default 10M)")
    parser.add_argument("--files", type=int, default=10, help="files to split them into (default 10)")
    parser.add_argument("--format", dest="file_format", choices=["parquet", "jsonl"], default="parquet")
    parser.add_argument("--memory-limit", default="2GB", help="DuckDB memory_limit of both phases")
    parser.add_argument("--threads", type=int, default=None, help="DuckDB threads (default: all cores)")
    parser.add_argument("--workdir", default=None, help="where to write the landing zone (default: a temp dir)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--phase", choices=["ingest", "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--landing", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        phase_main(args)
        return

    config = BenchConfig(events=args.events, files=args.files, file_format=args.file_format, seed=args.seed)
    work = Path(tempfile.mkdtemp(prefix="reelloop-bench-", dir=args.workdir))
    try:
        started = time.perf_counter()
        rows = write_landing_zone(work / "landing", config)
        size_mb = sum(p.stat().st_size for p in (work / "landing").rglob("*") if p.is_file()) / 1e6
        print(f"generated {rows:,} events in {config.files} {config.file_format} files "
              f"({size_mb:,.0f} MB) in {time.perf_counter() - started:.1f} s")
        ingest = run_phase("ingest", work / "landing", work / "ingest.duckdb", args.memory_limit, args.threads)
        ingest_rate = ingest["rows_read"] / ingest["seconds"]
        print(f"(a) reelloop ingest: {ingest['seconds']:.2f} s, {ingest_rate:,.0f} events/s, "
              f"peak RSS {ingest['peak_rss_mb']:,.0f} MB  (loaded {ingest['rows_loaded']:,}, "
              f"duplicate {ingest['rows_duplicate']:,}, quarantined {ingest['rows_quarantined']:,})")
        if config.file_format == "parquet":
            baseline = run_phase("baseline", work / "landing", work / "baseline.duckdb", args.memory_limit,
                                 args.threads)
            baseline_rate = baseline["rows_read"] / baseline["seconds"]
            print(f"(b) duckdb bare load: {baseline['seconds']:.2f} s, {baseline_rate:,.0f} events/s, "
                  f"peak RSS {baseline['peak_rss_mb']:,.0f} MB")
            print(f"ratio ingest / bare load: {ingest_rate / baseline_rate:.2f}x (target >= 0.4x, aim 0.6x)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
