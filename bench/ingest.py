"""Ingest throughput against DuckDB's bare Parquet load, with peak memory of each.

Generates N contract-valid events (plus ~2% duplicate deliveries and ~0.3% invalid rows) as K
files in a temp landing zone, then times, each in its own subprocess on a fresh database file:
  (a) reelloop ingest (`warehouse.ingest.ingest_landing_zone`: validate, dedup, quarantine, load);
  (b) DuckDB `create table t as select * from read_parquet(...)` of the same files (no checks).
Prints both rates (events/s), the ratio a/b and each phase's peak RSS.

    python bench/ingest.py --events 1000000 [--files 1] [--format jsonl] [--repeat 3]
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

EVENT_TYPES = np.array(
    ["impression", "view", "like", "share", "download", "select", "regenerate", "report"]
)
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
    # row groups of 128Ki rows (DuckDB and Spark write similar ones): a file scans on all cores
    row_group_rows: int = 131_072
    seed: int = 7


def prefixed(prefix: str, numbers: np.ndarray) -> pa.Array:
    """Vectorised string ids: prefix + decimal number."""
    return pc.binary_join_element_wise(prefix, pc.cast(pa.array(numbers), pa.string()), "")


def event_table(first: int, rows: int, config: BenchConfig, rng: np.random.Generator) -> pa.Table:
    """Rows [first, first + rows) of the synthetic event stream; a duplicate repeats an event."""
    index = np.arange(first, first + rows, dtype=np.int64)
    duplicate = rng.random(rows) < config.duplicate_rate
    index[duplicate] = (rng.random(int(duplicate.sum())) * np.maximum(index[duplicate], 1)).astype(
        np.int64
    )
    # every field is a function of the event index, so a duplicate delivery is the identical record
    mix = ((index.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(1)).astype(
        np.int64
    )
    event_type = EVENT_TYPES[
        np.searchsorted(np.cumsum(EVENT_TYPE_WEIGHTS), (mix % 10_000) / 10_000, side="right")
    ]
    is_view = event_type == "view"
    occurred_ms = START_MS + index * 50 + mix % 1000
    watch_ms = np.where(is_view, mix % 60_000, 0)
    position = (mix >> 20) % 50
    surface = SURFACES[(mix >> 30) % len(SURFACES)]

    invalid = rng.random(rows) < config.invalid_rate
    breakage = rng.integers(0, 4, rows)
    event_type = np.where(invalid & (breakage == 0), "zap", event_type)
    watch_ms = np.where(invalid & (breakage == 1), -5, watch_ms)
    occurred_ms = np.where(
        invalid & (breakage == 2), START_MS + 10 * 365 * 86_400_000 * 10, occurred_ms
    )
    viewer = prefixed("v", (mix >> 8) % config.viewers)
    viewer = pc.if_else(pa.array(invalid & (breakage == 3)), pa.scalar(""), viewer)

    occurred = pa.array(occurred_ms, pa.int64())
    if config.file_format == "parquet":
        occurred = occurred.cast(pa.timestamp("ms", tz="UTC"))
    return pa.table(
        {
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
        }
    )


def write_landing_zone(root: Path, config: BenchConfig) -> int:
    """Write the event files under root/landing/events, and the same rows as Parquet under
    root/baseline for the bare load (the landing files themselves when they are Parquet)."""
    import duckdb

    events_dir = root / "landing" / "events"
    baseline_dir = events_dir if config.file_format == "parquet" else root / "baseline"
    events_dir.mkdir(parents=True, exist_ok=True)
    baseline_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(config.seed)
    bounds = np.linspace(0, config.events, config.files + 1).astype(np.int64)
    for part, (first, last) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        table = event_table(int(first), int(last - first), config, rng)
        pq.write_table(
            table, baseline_dir / f"part-{part:04d}.parquet", row_group_size=config.row_group_rows
        )
        if config.file_format == "jsonl":
            con = duckdb.connect()
            con.register("part", table)
            target = str(events_dir / f"part-{part:04d}.jsonl")
            con.execute("copy part to ? (format json)", [target])
            con.close()
    return int(bounds[-1])


def cpu_seconds() -> float:
    """User + system CPU time of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_ingest(root: Path, db_path: Path, memory_limit: str, threads: int | None) -> dict:
    """Phase (a): reelloop ingest of the landing zone into a fresh warehouse file."""
    from warehouse.connection import connect
    from warehouse.ingest import IngestRules, ingest_landing_zone

    con = connect(db_path)
    rules = IngestRules(memory_limit=memory_limit, threads=threads)
    started, cpu = time.perf_counter(), cpu_seconds()
    files = ingest_landing_zone(con, root / "landing", rules)
    con.close()
    return {
        "seconds": time.perf_counter() - started,
        "cpu_seconds": cpu_seconds() - cpu,
        "rows_read": sum(f.rows_read for f in files),
        "rows_loaded": sum(f.rows_loaded for f in files),
        "rows_duplicate": sum(f.rows_duplicate for f in files),
        "rows_quarantined": sum(f.rows_quarantined for f in files),
    }


def run_baseline(root: Path, db_path: Path, memory_limit: str, threads: int | None) -> dict:
    """Phase (b): DuckDB loads the same rows from Parquet into a table, no checks."""
    import duckdb

    con = duckdb.connect(str(db_path))
    con.execute("set memory_limit = ?", [memory_limit])
    if threads is not None:
        con.execute("set threads = ?", [threads])
    # the settings ingest runs with; with DuckDB's default (true) this load is ~3x slower, as the
    # ordered write skips compression and the close-time checkpoint then rewrites the table
    con.execute("set preserve_insertion_order = false")
    events_dir = root / "landing" / "events"
    parquet_dir = events_dir if any(events_dir.glob("*.parquet")) else root / "baseline"
    files = sorted(str(p) for p in parquet_dir.glob("*.parquet"))
    started, cpu = time.perf_counter(), cpu_seconds()
    con.execute("create table t as select * from read_parquet(?)", [files])
    con.close()
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    rows = duckdb.connect(str(db_path), read_only=True).execute("select count(*) from t").fetchone()
    return {"seconds": seconds, "cpu_seconds": cpu, "rows_read": rows[0] if rows else 0}


PHASES = {"ingest": run_ingest, "baseline": run_baseline}


def run_phase(phase: str, root: Path, memory_limit: str, threads: int | None) -> dict:
    """Run one phase in a child process on a fresh database file; its result and peak RSS (MB)."""
    db_path = root / f"{phase}.duckdb"
    for leftover in (db_path, db_path.with_suffix(".duckdb.wal")):
        leftover.unlink(missing_ok=True)
    command = [sys.executable, __file__, "--phase", phase, "--root", str(root)]
    command += ["--memory-limit", memory_limit]
    if threads is not None:
        command += ["--threads", str(threads)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    db_path.unlink(missing_ok=True)
    return result


def phase_main(args: argparse.Namespace) -> None:
    """Child process: run the phase, print its result and own peak RSS as one JSON line."""
    root = Path(args.root)
    result = PHASES[args.phase](
        root, root / f"{args.phase}.duckdb", args.memory_limit, args.threads
    )
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def best_of(runs: list[dict]) -> dict:
    """The fastest run, with the highest peak RSS seen in any run."""
    best = min(runs, key=lambda run: run["seconds"])
    return {**best, "peak_rss_mb": max(run["peak_rss_mb"] for run in runs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000, help="events (default 10M)")
    parser.add_argument(
        "--files", type=int, default=None, help="files to split them into (default: 1M rows each)"
    )
    parser.add_argument(
        "--format", dest="file_format", choices=["parquet", "jsonl"], default="parquet"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs of each phase; best is kept")
    parser.add_argument(
        "--memory-limit", default="1536MB", help="DuckDB memory_limit of both phases"
    )
    parser.add_argument("--threads", type=int, default=None, help="DuckDB threads (default: all)")
    parser.add_argument("--workdir", default=None, help="parent of the temp landing zone")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        phase_main(args)
        return

    files = args.files or max(1, args.events // 1_000_000)
    config = BenchConfig(
        events=args.events, files=files, file_format=args.file_format, seed=args.seed
    )
    root = Path(tempfile.mkdtemp(prefix="reelloop-bench-", dir=args.workdir))
    try:
        started = time.perf_counter()
        rows = write_landing_zone(root, config)
        landing_mb = sum(p.stat().st_size for p in (root / "landing").rglob("*") if p.is_file())
        print(
            f"generated {rows:,} events in {config.files} {config.file_format} files "
            f"({landing_mb / 1e6:,.0f} MB) in {time.perf_counter() - started:.1f} s"
        )
        runs: dict[str, list[dict]] = {"ingest": [], "baseline": []}
        for _ in range(args.repeat):  # interleaved, so a busy machine slows both alike
            for phase in runs:
                runs[phase].append(run_phase(phase, root, args.memory_limit, args.threads))
        ingest, baseline = best_of(runs["ingest"]), best_of(runs["baseline"])
        ingest_rate = ingest["rows_read"] / ingest["seconds"]
        baseline_rate = baseline["rows_read"] / baseline["seconds"]
        print(
            f"(a) reelloop ingest:   {ingest['seconds']:7.2f} s {ingest_rate:>12,.0f} events/s "
            f"(cpu {ingest['cpu_seconds']:.1f} s)  peak RSS {ingest['peak_rss_mb']:,.0f} MB  "
            f"[loaded {ingest['rows_loaded']:,}, duplicate {ingest['rows_duplicate']:,}, "
            f"quarantined {ingest['rows_quarantined']:,}]"
        )
        print(
            f"(b) duckdb bare load: {baseline['seconds']:7.2f} s {baseline_rate:>12,.0f} events/s "
            f"(cpu {baseline['cpu_seconds']:.1f} s)  peak RSS {baseline['peak_rss_mb']:,.0f} MB"
        )
        print(
            f"ratio ingest / bare load: {ingest_rate / baseline_rate:.2f}x wall, "
            f"{baseline['cpu_seconds'] / ingest['cpu_seconds']:.2f}x cpu "
            f"(target >= 0.4x, aim 0.6x; best of {args.repeat})"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
