"""Whole-process wall time of the `reelloop` command line, each beside its bound.

Times, as a user runs them (a fresh process each, no Prefect API configured), the median of
several runs of:
  `reelloop --help`                                    bound 0.5 s
  `reelloop sql "select count(*) from events"`          bound 1.0 s
  `reelloop ingest EMPTY_LANDING` and `reelloop label`  bound 1.5 s of overhead beyond the
      stage's own work (nothing new to do: the stage's own work is the same call made in this
      process, timed here in the same run)
and, as the reference measured in the same run, `python -c pass` (the interpreter's start).

    python bench/cli.py [--repeat 5] [--requests 60]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Measure:
    """One command: its median whole-process seconds, what counts against the bound, the bound."""

    name: str
    median_seconds: float
    counted_seconds: float
    bound_seconds: float | None


def clean_env(db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "REELLOOP_"))}
    return {**env, "REELLOOP_DB": str(db)}


def median_wall(command: list[str], env: dict[str, str], repeat: int) -> float:
    """Median wall seconds of `command` run `repeat` times as a fresh process (it must succeed)."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(command, env=env, cwd=REPO, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def median_in_process(call: Callable[[], object], repeat: int) -> float:
    """Median seconds of the stage call itself, in this (warm) process."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def prepare(root: Path, requests: int) -> tuple[Path, Path]:
    """A small simulated warehouse, ingested and labeled, and an empty landing zone."""
    db = root / "wh" / "reelloop.duckdb"
    reelloop = str(BIN / "reelloop")
    env = clean_env(db)
    sim = root / "sim"
    subprocess.run([reelloop, "simulate", "--out", str(sim), "--requests", str(requests)], env=env, check=True, capture_output=True)  # fmt: skip
    subprocess.run([reelloop, "ingest", str(sim / "landing")], env=env, check=True, capture_output=True)  # fmt: skip
    subprocess.run([reelloop, "label"], env=env, check=True, capture_output=True)
    empty = root / "empty"
    (empty / "events").mkdir(parents=True)
    (empty / "generations").mkdir()
    return db, empty


def measure(root: Path, repeat: int, requests: int) -> list[Measure]:
    sys.path.insert(0, str(REPO))
    from pipelines.ingest import ingest
    from pipelines.label import label
    from warehouse.resource import Warehouse

    db, empty = prepare(root, requests)
    env = clean_env(db)
    reelloop = str(BIN / "reelloop")
    python = median_wall([sys.executable, "-c", "pass"], env, repeat)
    help_time = median_wall([reelloop, "--help"], env, repeat)
    sql_time = median_wall([reelloop, "sql", "select count(*) from events"], env, repeat)
    ingest_time = median_wall([reelloop, "ingest", str(empty)], env, repeat)
    label_time = median_wall([reelloop, "label"], env, repeat)
    warehouse = Warehouse.at(db)
    ingest_work = median_in_process(lambda: ingest(warehouse, str(empty)), repeat)
    label_work = median_in_process(lambda: label(warehouse), repeat)
    return [
        Measure("python -c pass (reference)", python, python, None),
        Measure("reelloop --help", help_time, help_time, 0.5),
        Measure('reelloop sql "select count(*) from events"', sql_time, sql_time, 1.0),
        Measure("reelloop ingest EMPTY (overhead)", ingest_time, ingest_time - ingest_work, 1.5),
        Measure("reelloop label, nothing new (overhead)", label_time, label_time - label_work, 1.5),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per command (median)")
    parser.add_argument("--requests", type=int, default=60, help="simulated requests")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        measures = measure(Path(folder), args.repeat, args.requests)
    reference = measures[0].median_seconds
    print(
        f"{'command':<46}{'median s':>10}{'counted s':>11}{'bound s':>9}{'x python':>10}  verdict"
    )
    over = 0
    for m in measures:
        bound = "-" if m.bound_seconds is None else f"{m.bound_seconds:g}"
        verdict = (
            ""
            if m.bound_seconds is None
            else ("ok" if m.counted_seconds < m.bound_seconds else "OVER")
        )
        over += verdict == "OVER"
        print(f"{m.name:<46}{m.median_seconds:>10.2f}{m.counted_seconds:>11.2f}{bound:>9}"
              f"{m.median_seconds / reference:>10.1f}  {verdict}")  # fmt: skip
    print(
        f"load average: {', '.join(f'{x:.1f}' for x in os.getloadavg())} ({os.cpu_count()} cores)"
    )
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
