"""Crash drills: SIGKILL each writing stage at random moments, rerun it, and get what an uninterrupted run gets.

A helper process (started with `python -c`) imports the stages once and forks one child per run,
so a run starts in milliseconds; the test kills the child with SIGKILL at a seeded random moment
within the stage's measured duration, reruns the stage to completion, and compares every public
table (and the export tables) with an uninterrupted run, leaving out wall-clock columns and the
time-stamped model ids / artifact paths. For export it also checks, after every kill, that no
folder looks complete unless it is (manifests only in complete folders), and that the final
files are byte-identical to the uninterrupted export.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from landing.simulate import SimulationConfig, simulate_landing_zone
from pipelines.dataset_files import MANIFEST
from warehouse.resource import Warehouse
from warehouse.snapshot import (
    TEMP_MARKER,
    current_snapshot_path,
    snapshot_dir,
    snapshot_is_current,
)

REPO = Path(__file__).resolve().parents[2]
STAGES: tuple[str, ...] = ("ingest", "label", "train", "score", "export")

# The helper: imports every stage once, then for each command line forks a child that runs one
# stage through its Prefect-free entry point; it reports "pid N" and then "exit N STATUS".
STAGE_RUNNER = r"""
import json, os, sys, time
from features.export import ExportConfig
from pipelines.export import export_datasets
from pipelines.label import label
from pipelines.score import score_generations
from pipelines.train import train_models
from warehouse.resource import Warehouse
from warehouse.ingest import IngestRules, ingest_landing_zone


def run_stage(command):
    db = command["db"]
    stage = command["stage"]
    if stage == "ingest":
        with Warehouse.at(db).writer() as con:
            ingest_landing_zone(con, command["landing"], IngestRules(memory_limit=None))
    elif stage == "label":
        label(Warehouse.at(db))
    elif stage == "train":
        train_models(Warehouse.at(db))
    elif stage == "score":
        score_generations(Warehouse.at(db), command["score_batch"])
    elif stage == "export":
        export_datasets(Warehouse.at(db), command["out"], ExportConfig())
    else:
        raise ValueError(stage)


print("ready", flush=True)
for line in sys.stdin:
    command = json.loads(line)
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            run_stage(command)
        except BaseException as exc:
            print(f"stage {command['stage']} failed: {exc!r}", file=sys.stderr, flush=True)
            code = 1
        sys.stdout.flush()
        os._exit(code)
    print(f"pid {pid}", flush=True)
    _, status = os.waitpid(pid, 0)
    print(f"exit {pid} {status}", flush=True)
"""

# columns that hold the wall clock, or ids and paths derived from it: left out of comparisons
VOLATILE: dict[str, tuple[str, ...]] = {
    "events": ("ingested_at",),
    "generations": ("ingested_at",),
    "quarantine": ("quarantined_at",),
    "ingest_files": ("ingested_at",),
    "labels": ("labeled_at",),
    "labels_history": ("labeled_at", "superseded_at"),
    "preference_pairs": ("created_at",),
    "model_registry": ("model_id", "created_at", "artifact_path", "artifact_sha256"),
    "champion_history": ("model_id", "decided_at", "previous_champion_id"),
    "scores": ("model_id", "scored_at"),
    "exports": ("created_at", "path"),
    "export_rows": (),
}


@dataclass(frozen=True)
class DrillConfig:
    """Size of the simulation and how many kills each stage must survive."""

    requests: int = 60
    days: int = 3
    seed: int = 11
    kills: dict[str, int] = field(
        default_factory=lambda: {"ingest": 3, "label": 3, "train": 2, "score": 3, "export": 3}
    )
    kills_per_trial: int = 2
    score_batch: int = 40
    stage_timeout_seconds: float = 180.0


class StageRunner:
    """The forking helper process; `run` starts a stage and optionally SIGKILLs it after `kill_after` s."""

    def __init__(self, timeout: float) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO), "PREFECT_LOGGING_LEVEL": "WARNING"}
        self.timeout = timeout
        self.process = subprocess.Popen(
            [sys.executable, "-c", STAGE_RUNNER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env=env,
        )
        assert self._line() == "ready"

    def _line(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, "the stage runner died"
        return line.strip()

    def run(
        self, command: dict[str, object], kill_after: float | None = None
    ) -> tuple[bool, float]:
        """(killed, seconds): whether SIGKILL stopped the stage, and how long it ran."""
        assert self.process.stdin is not None
        started = time.perf_counter()
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        kind, pid_text = self._line().split()
        assert kind == "pid"
        pid = int(pid_text)
        if kill_after is not None:
            time.sleep(kill_after)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _, reported, status_text = self._line().split()
        seconds = time.perf_counter() - started
        assert int(reported) == pid
        status = int(status_text)
        if os.WIFSIGNALED(status):
            assert os.WTERMSIG(status) == signal.SIGKILL
            return True, seconds
        assert os.WEXITSTATUS(status) == 0, f"stage {command['stage']} failed (status {status})"
        assert seconds < self.timeout
        return False, seconds

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=30)


@dataclass
class Reference:
    """An uninterrupted run of one stage: its input warehouse, its output and how long it took."""

    base: Path | None
    result: Path
    seconds: float
    out: Path | None = None


def command_for(stage: str, db: Path, landing: Path, config: DrillConfig) -> dict[str, object]:
    return {
        "stage": stage,
        "db": str(db),
        "landing": str(landing),
        "out": str(db.parent / "export"),
        "score_batch": config.score_batch,
    }


def build_references(
    runner: StageRunner, root: Path, landing: Path, config: DrillConfig
) -> dict[str, Reference]:
    """Each stage run once, uninterrupted, on the output of the previous one."""
    references: dict[str, Reference] = {}
    previous: Path | None = None
    for stage in STAGES:
        folder = root / "reference" / stage
        folder.mkdir(parents=True)
        db = folder / "w.duckdb"
        if previous is not None:
            shutil.copy(previous, db)
        killed, seconds = runner.run(command_for(stage, db, landing, config))
        assert not killed
        references[stage] = Reference(
            previous, db, seconds, folder / "export" if stage == "export" else None
        )
        previous = db
    return references


def table_frames(db: Path) -> dict[str, pl.DataFrame]:
    """Every compared table, volatile columns left out, rows in a stable order."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        frames = {}
        for table, volatile in VOLATILE.items():
            columns = [c for c in con.table(table).columns if c not in volatile]
            frames[table] = con.table(table).select(*columns).order("all").pl()
        # a future_timestamp detail names the ingest time plus the skew: wall clock too
        frames["quarantine"] = frames["quarantine"].with_columns(
            pl.col("detail").str.replace(
                r"after \S+ \(ingest time", "after <ingest time> (ingest time"
            )
        )
        return frames
    finally:
        con.close()


def assert_same_tables(actual: Path, expected: Path, context: str) -> None:
    expected_frames = table_frames(expected)
    for table, frame in table_frames(actual).items():
        try:
            assert_frame_equal(frame, expected_frames[table], check_exact=False, rel_tol=1e-9)
        except AssertionError as exc:
            raise AssertionError(f"{context}: table {table} differs: {exc}") from None


def file_digests(folder: Path) -> dict[str, str]:
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def assert_complete_export(folder: Path) -> None:
    """A folder with a root manifest holds every file its dataset manifests list, with their sha256."""
    root = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    digests = file_digests(folder)
    for dataset, summary in root["datasets"].items():
        manifest_path = f"{dataset}/{MANIFEST}"
        assert digests.get(manifest_path) == summary["manifest_sha256"], folder
        manifest = json.loads((folder / manifest_path).read_text(encoding="utf-8"))
        for entry in manifest["files"]:
            assert digests.get(f"{dataset}/{entry['path']}") == entry["sha256"], (folder, entry)


def assert_no_partial_export_looks_complete(trial: Path) -> None:
    """After a kill: OUT is absent or complete; any other folder is complete or has no root manifest."""
    for folder in trial.iterdir():
        if not folder.is_dir() or folder.name.endswith(".snapshot") or folder.name == "artifacts":
            continue
        if (folder / MANIFEST).exists():
            assert_complete_export(folder)
        else:
            assert folder.name.startswith("."), f"{folder} is visible but has no manifest"


def assert_snapshot_sound(db: Path) -> None:
    folder = snapshot_dir(db)
    if not folder.exists():
        return
    assert not [p for p in folder.iterdir() if TEMP_MARKER in p.name], "publish temporaries left"
    current = current_snapshot_path(db)
    assert current is not None and current.is_file()
    # what a killed run committed is published by the rerun, even when it had nothing left to do
    assert snapshot_is_current(db), "the snapshot is behind the warehouse"


def drill(
    stage: str,
    runner: StageRunner,
    references: dict[str, Reference],
    root: Path,
    landing: Path,
    config: DrillConfig,
    rng: np.random.Generator,
) -> dict[str, int]:
    """Kill `stage` at random moments until it has been killed config.kills[stage] times; check each recovery."""
    reference = references[stage]
    kills = trials = 0
    while kills < config.kills[stage]:
        trials += 1
        assert trials <= 4 * config.kills[stage], f"{stage}: the kills keep missing the stage"
        trial = root / "trials" / f"{stage}-{trials}"
        trial.mkdir(parents=True)
        db = trial / "w.duckdb"
        if reference.base is not None:
            shutil.copy(reference.base, db)
        if stage == "export" and reference.out is not None and trials % 2 == 0:
            # every other trial replaces an earlier export in place (the atomic swap path)
            shutil.copytree(reference.out, trial / "export")
        command = command_for(stage, db, landing, config)
        for _ in range(config.kills_per_trial):
            killed, _ = runner.run(command, kill_after=float(rng.uniform(0.0, reference.seconds)))
            kills += killed
            if stage == "export":
                assert_no_partial_export_looks_complete(trial)
        killed, _ = runner.run(command)
        assert not killed
        assert_same_tables(db, reference.result, f"{stage} trial {trials}")
        assert_snapshot_sound(db)
        if stage == "export":
            assert reference.out is not None
            out = trial / "export"
            assert file_digests(out) == file_digests(reference.out)
            leftovers = [p.name for p in trial.iterdir() if p.name.startswith(".export.")]
            assert leftovers == [], f"staging folders left behind: {leftovers}"
    return {"kills": kills, "trials": trials}


@pytest.fixture(scope="module")
def runner() -> Iterator[StageRunner]:
    stage_runner = StageRunner(DrillConfig().stage_timeout_seconds)
    yield stage_runner
    stage_runner.close()


def run_drills(
    runner: StageRunner, root: Path, config: DrillConfig, seed: int
) -> dict[str, dict[str, int]]:
    simulate_landing_zone(
        root / "sim", SimulationConfig(requests=config.requests, days=config.days, seed=config.seed)
    )
    landing = root / "sim" / "landing"
    references = build_references(runner, root, landing, config)
    rng = np.random.default_rng(seed)
    return {stage: drill(stage, runner, references, root, landing, config, rng) for stage in STAGES}


def test_every_writing_stage_survives_sigkill_at_random_moments(
    runner: StageRunner, tmp_path: Path
) -> None:
    config = DrillConfig()
    survived = run_drills(runner, tmp_path, config, seed=20261122)
    print("kills survived per stage:", {s: r["kills"] for s, r in survived.items()})
    assert all(survived[s]["kills"] >= config.kills[s] for s in STAGES)


@pytest.mark.slow
def test_every_writing_stage_survives_many_sigkills_on_a_larger_simulation(
    runner: StageRunner, tmp_path: Path
) -> None:
    config = DrillConfig(
        requests=300,
        days=7,
        kills={"ingest": 30, "label": 20, "train": 15, "score": 20, "export": 20},
        kills_per_trial=3,
        score_batch=200,
    )
    survived = run_drills(runner, tmp_path, config, seed=7)
    print("kills survived per stage:", {s: r["kills"] for s, r in survived.items()})
    assert all(survived[s]["kills"] >= config.kills[s] for s in STAGES)


def test_a_commit_left_unpublished_by_a_killed_run_is_published_by_the_next_one(
    tmp_path: Path,
) -> None:
    warehouse = Warehouse(str(tmp_path / "w.duckdb"))
    insert = "insert into scores values ('g1', 'm1', 0.5, current_timestamp)"
    with warehouse.writer() as con:
        con.execute(insert)
    assert snapshot_is_current(warehouse.path)
    with warehouse.writer(publish=False) as con:  # a read changes nothing
        con.execute("select count(*) from scores").fetchall()
    assert snapshot_is_current(warehouse.path)
    assert warehouse.publish_if_stale() is None
    with warehouse.writer(publish=False) as con:  # committed, then "killed" before publishing
        con.execute(insert)
    assert not snapshot_is_current(warehouse.path)
    published = warehouse.publish_if_stale()
    assert published is not None and published.row_counts["scores"] == 2
    assert snapshot_is_current(warehouse.path)
