"""Peer benchmark: the whole `reelloop ingest` process against dlt loading the same landing zone.

Both load the same JSON Lines event files (default ~1M events in 8 files, from the generator of
`bench/ingest.py`: ~2% duplicate deliveries, ~0.3% rows breaking the contract) into a fresh
DuckDB file, each as its own process, measured from outside (wall time from spawn to exit, user +
system CPU and peak RSS of the child):
  (a) reelloop: the ingest stage run the way the command line runs it without a Prefect API
      (`pipelines.ingest.ingest` on the warehouse file, then the accounting table printed): every
      contract check, dedup on event_id across files and runs, quarantine, one transaction per
      file, the analysts' snapshot published;
  (b) dlt: a resource yielding each file as an Arrow table (pyarrow's JSON reader, the arrow path),
      `write_disposition="merge"` with `primary_key="event_id"`, into the duckdb destination (no
      contract checks, no quarantine).
Runs are interleaved (a busy machine slows both alike); medians are printed with the ratio dlt /
reelloop (> 1: reelloop is faster).

    pip install "dlt[duckdb]"   # optional bench dependency: pip install -e ".[bench]"
    python bench/ingest_vs_dlt.py [--events 1000000] [--files 8] [--repeat 3] [--landing DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ingest import BenchConfig, write_landing_zone

REELLOOP_SCRIPT = """
import sys
from cli.ingest import format_accounting
from pipelines.ingest import ingest
from warehouse.resource import Warehouse

summary = ingest(Warehouse.at(sys.argv[2]), sys.argv[1])
print(format_accounting(summary))
print("ROWS", summary.total.rows_read, summary.total.rows_loaded)
"""

DLT_SCRIPT = """
import sys
from pathlib import Path

import dlt
import pyarrow.json as pa_json

landing, db_path, work = Path(sys.argv[1]), sys.argv[2], sys.argv[3]


@dlt.resource(name="events", write_disposition="merge", primary_key="event_id")
def events():
    for path in sorted((landing / "events").glob("*.jsonl")):
        yield pa_json.read_json(path)


pipeline = dlt.pipeline(
    pipeline_name="bench_ingest",
    destination=dlt.destinations.duckdb(db_path),
    dataset_name="landing",
    pipelines_dir=work,
)
info = pipeline.run(events())
with pipeline.sql_client() as client:
    rows = client.execute_sql("select count(*) from events")[0][0]
print(info)
print("ROWS", rows, rows)
"""

SCRIPTS = {"reelloop": REELLOOP_SCRIPT, "dlt": DLT_SCRIPT}


@dataclass(frozen=True)
class Run:
    """One measured child process."""

    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    rows_loaded: int


def run_child(tool: str, landing: Path, work: Path) -> Run:
    """Run one tool's load in a fresh child process on a fresh database; measured from outside
    (the child's own rusage, reaped with wait4)."""
    target = work / tool
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    db_path = target / f"{tool}.duckdb"
    env = {**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false", "DLT_DATA_DIR": str(target)}
    command = [sys.executable, "-c", SCRIPTS[tool], str(landing), str(db_path), str(target)]
    out_path, err_path = work / f"{tool}.out", work / f"{tool}.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{tool} failed ({child.returncode}):\n{err_path.read_text()[-3000:]}")
    rows = next(line for line in out_path.read_text().splitlines() if line.startswith("ROWS "))
    shutil.rmtree(target, ignore_errors=True)
    return Run(
        seconds=seconds,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024,
        rows_loaded=int(rows.split()[2]),
    )


def summary_line(tool: str, runs: list[Run]) -> str:
    """Medians of one tool's runs."""
    return (
        f"{tool:<9} wall {statistics.median(r.seconds for r in runs):6.2f} s   "
        f"cpu {statistics.median(r.cpu_seconds for r in runs):6.2f} s   "
        f"peak RSS {max(r.peak_rss_mb for r in runs):7,.0f} MB   "
        f"rows in table {runs[-1].rows_loaded:,}   "
        f"(runs: {', '.join(f'{r.seconds:.2f}' for r in runs)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each tool (median kept)")
    parser.add_argument("--landing", default=None, help="an existing landing zone to load instead")
    parser.add_argument("--workdir", default=None, help="parent of the temp folders")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="reelloop-vs-dlt-", dir=args.workdir))
    try:
        if args.landing:
            landing = Path(args.landing)
        else:
            config = BenchConfig(
                events=args.events, files=args.files, file_format="jsonl", seed=args.seed
            )
            write_landing_zone(root, config)
            shutil.rmtree(root / "baseline", ignore_errors=True)
            landing = root / "landing"
        files = sorted((landing / "events").glob("*.jsonl"))
        size = sum(p.stat().st_size for p in files)
        print(f"landing zone: {len(files)} JSON Lines event files, {size / 1e6:,.0f} MB")
        runs: dict[str, list[Run]] = {"reelloop": [], "dlt": []}
        for _ in range(args.repeat):
            for tool in runs:
                runs[tool].append(run_child(tool, landing, root))
        for tool, tool_runs in runs.items():
            print(summary_line(tool, tool_runs))
        ratio = statistics.median(r.seconds for r in runs["dlt"]) / statistics.median(
            r.seconds for r in runs["reelloop"]
        )
        cpu_ratio = statistics.median(r.cpu_seconds for r in runs["dlt"]) / statistics.median(
            r.cpu_seconds for r in runs["reelloop"]
        )
        print(
            f"dlt / reelloop: {ratio:.2f}x wall, {cpu_ratio:.2f}x cpu "
            f"(> 1: reelloop faster; target >= 1, goal 2; median of {args.repeat})"
        )
        print(json.dumps({"wall_ratio": round(ratio, 3), "cpu_ratio": round(cpu_ratio, 3)}))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
