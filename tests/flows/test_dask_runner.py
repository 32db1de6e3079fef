"""Ingest through a real Dask cluster (a scheduler and two workers on 127.0.0.1) gives the same
tables as the local runner on the same simulated landing zone."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from cli.main import main
from flows.ingest import ingest_flow
from flows.runner import with_runner
from landing.simulate import SimulationConfig, simulate_landing_zone
from results.ingest import IngestSummary
from results.label import LabelSummary
from warehouse.connection import connect
from warehouse.ingest import (
    IngestRules,
    StagingError,
    discover_new_files,
    ingest_landing_file,
    load_staged_file,
    stage_landing_file,
    staging_dir_for,
)

REPO = Path(__file__).resolve().parents[2]
DASK = Path(sys.executable).parent / "dask"
WORKERS = 2
STARTUP_SECONDS = 60.0
# wall-clock columns: when a run happened, not what it loaded
WALL_CLOCK_COLUMNS = frozenset({"ingested_at", "quarantined_at", "seconds"})
INGEST_TABLES = ("events", "generations", "quarantine", "ingest_files")
# ...and the future_timestamp detail names the cutoff, ingest time plus the allowed skew
CUTOFF_IN_DETAIL = r"after \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z"


@dataclass(frozen=True)
class RunnerWarehouses:
    """The same landing zone ingested by the local runner and through the Dask cluster."""

    local_db: Path
    dask_db: Path
    scheduler_address: str
    landing: Path
    local_summary: IngestSummary
    dask_summary: IngestSummary
    dask_flow_run_id: UUID


@pytest.fixture(scope="module")
def dask_scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Address of a Dask scheduler with two single-thread worker processes; all stopped after."""
    from distributed import Client

    root = tmp_path_factory.mktemp("dask")
    scheduler_file = root / "scheduler.json"
    commands = [
        [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"],
        *[[DASK, "worker", "--nthreads", "1", "--no-dashboard"] for _ in range(WORKERS)],
    ]
    processes: list[subprocess.Popen] = []
    try:
        for number, command in enumerate(commands):
            log = (root / f"process-{number}.log").open("wb")
            processes.append(
                subprocess.Popen(
                    [*map(str, command), "--scheduler-file", str(scheduler_file)],
                    cwd=REPO,
                    env={**os.environ, "DASK_TEMPORARY_DIRECTORY": str(root)},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group: the nanny's worker goes too
                )
            )
            if number == 0:
                wait_for_file(scheduler_file, STARTUP_SECONDS)
        with Client(scheduler_file=str(scheduler_file), timeout=STARTUP_SECONDS) as client:
            client.wait_for_workers(WORKERS, timeout=STARTUP_SECONDS)
            # warm both workers so the scheduler spreads the files instead of waiting on imports
            client.run(__import__, "flows.ingest")
            address = json.loads(scheduler_file.read_text())["address"]
        yield address
    finally:
        for process in reversed(processes):
            stop(process)


def wait_for_file(path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear within {timeout} s")
        time.sleep(0.1)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM the process group we started, then SIGKILL it if it lingers."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


def write_landing_zone(root: Path) -> Path:
    """A small simulation plus whole-file cases: a copy (duplicate content), a corrupt Parquet
    (unreadable), an empty and an unsupported file, and malformed lines with a repeated event."""
    simulate_landing_zone(root, SimulationConfig(requests=40, days=2, seed=3))
    landing = root / "landing"
    events = landing / "events"
    first = sorted(events.glob("*.jsonl"))[0]
    shutil.copy(first, events / "zz_copy_of_first.jsonl")
    (events / "zz_corrupt.parquet").write_bytes(b"PAR1 truncated by a crashed writer")
    (events / "zz_empty.jsonl").write_bytes(b"")
    (landing / "generations" / "notes.txt").write_text("not a landing format\n")
    repeated = first.read_text().splitlines()[0]
    (events / "zz_malformed.jsonl").write_text(
        "\n".join([repeated, "{not json", "[1, 2]", '{"event_id": 7}', ""]) + "\n"
    )
    return landing


ABANDONED = "0123456789abcdef-0123456789ab"


def plant_abandoned_staging(staging: Path) -> None:
    """What a coordinator killed two days ago left: a staged directory it never loaded."""
    staged = staging / ABANDONED / "day=2026-01-01"
    staged.mkdir(parents=True)
    (staged / "part-0.parquet").write_bytes(b"left behind")
    two_days_ago = time.time() - 2 * 86400
    for path in (staged / "part-0.parquet", staged, staged.parent):
        os.utime(path, (two_days_ago, two_days_ago))


@pytest.fixture(scope="module")
def ingested(
    tmp_path_factory: pytest.TempPathFactory, prefect_harness: None, dask_scheduler: str
) -> RunnerWarehouses:
    """The landing zone ingested once with the local runner and once through the cluster.

    The label part of issue 6 adds its runs on (local_db, dask_db, scheduler_address).
    """
    root = tmp_path_factory.mktemp("runners")
    landing = write_landing_zone(root / "sim")
    local_db, dask_db = root / "local.duckdb", root / "dask.duckdb"
    local_runner = argparse.Namespace(runner="local", dask_address=None)
    dask_runner = argparse.Namespace(runner="dask", dask_address=dask_scheduler)
    local = with_runner(ingest_flow, local_runner)(landing_dir=str(landing), db_path=str(local_db))
    plant_abandoned_staging(staging_dir_for(dask_db))
    state = with_runner(ingest_flow, dask_runner)(
        landing_dir=str(landing), db_path=str(dask_db), return_state=True
    )
    return RunnerWarehouses(
        local_db,
        dask_db,
        dask_scheduler,
        landing,
        local,
        state.result(),
        state.state_details.flow_run_id,
    )


def table_rows(db: Path, table: str) -> list[tuple]:
    """Every row of a public table without its wall-clock columns (and with the wall-clock
    cutoff masked in quarantine details), in a canonical order."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        columns = [
            name
            for (name,) in con.execute(
                "select column_name from information_schema.columns "
                "where table_name = ? order by ordinal_position",
                [table],
            ).fetchall()
            if name not in WALL_CLOCK_COLUMNS
        ]
        masked = [
            duckdb.FunctionExpression(
                "regexp_replace",
                duckdb.ColumnExpression(name),
                duckdb.ConstantExpression(CUTOFF_IN_DETAIL),
                duckdb.ConstantExpression("after <ingest time + skew>"),
            ).alias(name)
            if (table, name) == ("quarantine", "detail")
            else duckdb.ColumnExpression(name)
            for name in columns
        ]
        return con.table(table).select(*masked).order("all").fetchall()
    finally:
        con.close()


@pytest.mark.parametrize("table", INGEST_TABLES)
def test_dask_ingest_gives_the_local_tables(ingested: RunnerWarehouses, table: str) -> None:
    local, on_dask = table_rows(ingested.local_db, table), table_rows(ingested.dask_db, table)
    assert local, f"{table} is empty: the comparison would prove nothing"
    assert on_dask == local


def test_the_landing_zone_exercises_quarantine_dedup_and_whole_file_outcomes(
    ingested: RunnerWarehouses,
) -> None:
    summary = ingested.dask_summary
    assert summary.files_by_status == {
        "duplicate_content": 1,
        "empty": 1,
        "loaded": 9,
        "unreadable": 1,
        "unsupported_format": 1,
    }
    assert summary.total.rows_duplicate > 0 and summary.total.rows_quarantined > 0
    assert summary.quarantined_by_reason["malformed_record"] >= 2
    assert summary.quarantined_by_reason["missing_field"] >= 1
    assert summary.total.rows_read == (
        summary.total.rows_loaded + summary.total.rows_duplicate + summary.total.rows_quarantined
    )
    untimed = {"seconds": 0.0, "rows_per_second": 0, "staged_by_worker": {}}
    assert replace(summary, **untimed) == replace(ingested.local_summary, **untimed)
    assert ingested.local_summary.staged_by_worker == {}  # local: loaded in this process


def test_the_cli_with_the_dask_runner_is_a_no_op_the_second_time(
    ingested: RunnerWarehouses, capsys: pytest.CaptureFixture[str]
) -> None:
    before = {table: table_rows(ingested.dask_db, table) for table in INGEST_TABLES}
    argv = ["--db", str(ingested.dask_db), "--runner", "dask"]
    argv += ["--dask-address", ingested.scheduler_address, "ingest", str(ingested.landing)]
    assert main(argv) == 0
    assert "total" in capsys.readouterr().out
    assert {table: table_rows(ingested.dask_db, table) for table in INGEST_TABLES} == before


def test_without_prefect_the_dask_step_runner_gives_the_local_tables(
    ingested: RunnerWarehouses, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The fast local mode (no Prefect API) submits the same steps to the cluster through
    distributed.Client: the same tables as the local runner, files staged on both workers, and
    label's event passes run on both workers."""
    db = tmp_path / "direct-dask.duckdb"
    cluster = ["--no-prefect", "--runner", "dask", "--dask-address", ingested.scheduler_address]
    # the simulated zone holds a corrupt Parquet file and a text file: exit 3 names them
    assert main(["--db", str(db), *cluster, "--json", "ingest", str(ingested.landing)]) == 3
    summary = json.loads(capsys.readouterr().out)
    assert sorted(summary["failed_files"].values()) == ["unreadable", "unsupported_format"]
    assert len(summary["staged_by_worker"]) == WORKERS
    assert sum(summary["staged_by_worker"].values()) == summary["total"]["files"]
    for table in INGEST_TABLES:
        assert table_rows(db, table) == table_rows(ingested.local_db, table), table
    assert main(["--db", str(db), *cluster, "--json", "label"]) == 0
    labeled = json.loads(capsys.readouterr().out)
    assert labeled["full_rebuild"] and len(labeled["event_pass_workers"]) == WORKERS


def test_files_were_staged_on_both_workers_and_the_staging_was_cleaned(
    ingested: RunnerWarehouses,
) -> None:
    staged_by = ingested.dask_summary.staged_by_worker
    assert len(staged_by) == WORKERS
    assert all(address.startswith("tcp://127.0.0.1:") for address in staged_by)
    assert all(files >= 1 for files in staged_by.values())
    assert sum(staged_by.values()) == ingested.dask_summary.total.files
    assert list(staging_dir_for(ingested.dask_db).iterdir()) == []  # ABANDONED too


def test_a_staged_directory_a_killed_run_left_is_removed(ingested: RunnerWarehouses) -> None:
    assert not (staging_dir_for(ingested.dask_db) / ABANDONED).exists()


def test_the_workers_reported_their_task_runs_to_the_flow_run(ingested: RunnerWarehouses) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[ingested.dask_flow_run_id]))
        )
    staged = [run for run in runs if run.name.startswith("stage_file")]
    assert len(staged) == ingested.dask_summary.total.files
    assert all(run.state is not None and run.state.is_completed() for run in staged)


# ---------------------------------------------------------------------------- without a cluster

NOW = datetime(2026, 10, 20, tzinfo=UTC)
RULES = IngestRules(memory_limit=None)


def write_embedding_files(landing: Path) -> None:
    """Two generation files whose embeddings disagree in length within a model_version: the
    second file's rows are checked against the first's, loaded in the warehouse."""
    (landing / "generations").mkdir(parents=True, exist_ok=True)
    for name, dims in (("a.jsonl", (3, 3, 2)), ("b.jsonl", (2, 3))):
        rows = [
            {
                "generation_id": f"{name}-{n}",
                "request_id": "r1",
                "creator_id": "c1",
                "prompt": "a fox",
                "model_version": "m1",
                "created_at": "2026-10-02T10:00:00+02:00",
                "duration_ms": 4000,
                "output_embedding": [0.5] * dim,
            }
            for n, dim in enumerate(dims)
        ]
        (landing / "generations" / name).write_text("\n".join(map(json.dumps, rows)) + "\n")


def test_staging_then_loading_equals_loading_directly(tmp_path: Path) -> None:
    landing = write_landing_zone(tmp_path / "sim")
    write_embedding_files(landing)
    direct, staged = connect(tmp_path / "direct.duckdb"), connect(tmp_path / "staged.duckdb")
    for landing_file in discover_new_files(direct, landing, RULES):
        ingest_landing_file(direct, landing_file, RULES, ingested_at=NOW)
    for landing_file in discover_new_files(staged, landing, RULES):
        on_worker = stage_landing_file(landing_file, RULES, NOW, tmp_path / "staging")
        load_staged_file(staged, landing_file, on_worker, NOW)
    direct.close()
    staged.close()
    for table in INGEST_TABLES:
        assert table_rows(tmp_path / "staged.duckdb", table) == table_rows(
            tmp_path / "direct.duckdb", table
        )
    con = duckdb.connect(str(tmp_path / "staged.duckdb"), read_only=True)
    mismatched = con.execute(
        "select source_file, row_number from quarantine "
        "where reason_code = 'embedding_dim_mismatch' order by all"
    ).fetchall()
    con.close()
    assert mismatched == [("generations/a.jsonl", 3), ("generations/b.jsonl", 1)]
    assert list((tmp_path / "staging").iterdir()) == []


def test_staged_rows_the_coordinator_cannot_read_stop_the_load(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    write_embedding_files(landing)
    con = connect()
    first = discover_new_files(con, landing, RULES)[0]
    on_worker = stage_landing_file(first, RULES, NOW, tmp_path / "staging")
    assert on_worker.rows == 3 and on_worker.directory is not None
    moved = replace(on_worker, directory=tmp_path / "elsewhere")
    with pytest.raises(StagingError, match="must be on storage the Dask workers"):
        load_staged_file(con, first, moved, NOW)
    assert con.execute("select count(*) from ingest_files").fetchone() == (0,)
    assert load_staged_file(con, first, on_worker, NOW).rows_loaded == 2


# ------------------------------------------------------------------------------------- label

LABEL_TABLES = (
    "labels",
    "preference_pairs",
    "label_engagement",
    "label_engagement_slots",
    "label_viewer_activity",
    "label_abnormal_viewers",
)
LABEL_WALL_CLOCK = frozenset({"labeled_at", "created_at", "flagged_at"})


@dataclass(frozen=True)
class LabelRuns:
    """Summaries of the label runs on each warehouse: first full, then after a late file."""

    local: list[LabelSummary]
    on_dask: list[LabelSummary]


def write_late_likes(landing: Path, root: Path) -> Path:
    """A new landing zone with one events file: likes of already labeled generations by new viewers."""
    late = root / "late_landing"
    (late / "events").mkdir(parents=True)
    (late / "generations").mkdir()
    first = sorted((landing / "events").glob("*.jsonl"))[0]
    records = [json.loads(line) for line in first.read_text().splitlines()[:40]]
    lines = []
    for number, record in enumerate(records):
        record.update(
            event_id=f"late_{number}", event_type="like", viewer_id=f"late_viewer_{number % 7}"
        )
        record.pop("watch_ms", None)
        lines.append(json.dumps(record))
    (late / "events" / "late_likes.jsonl").write_text("\n".join(lines) + "\n")
    return late


@pytest.fixture(scope="module")
def labeled(ingested: RunnerWarehouses, tmp_path_factory: pytest.TempPathFactory) -> LabelRuns:
    """Label both warehouses (local runner / the cluster), then ingest late likes into both and label again."""
    from flows.label import label_flow

    local_runner = argparse.Namespace(runner="local", dask_address=None)
    dask_runner = argparse.Namespace(runner="dask", dask_address=ingested.scheduler_address)
    late = write_late_likes(ingested.landing, tmp_path_factory.mktemp("late"))
    runs: dict[str, list[LabelSummary]] = {"local": [], "dask": []}
    for name, db, runner in (
        ("local", ingested.local_db, local_runner),
        ("dask", ingested.dask_db, dask_runner),
    ):
        runs[name].append(with_runner(label_flow, runner)(db_path=str(db)))
        with_runner(ingest_flow, local_runner)(landing_dir=str(late), db_path=str(db))
        runs[name].append(with_runner(label_flow, runner)(db_path=str(db)))
    return LabelRuns(runs["local"], runs["dask"])


def label_frame(db: Path, table: str) -> pl.DataFrame:
    """A label table without its wall-clock columns, sorted on every column."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        frame = con.table(table).pl()
    finally:
        con.close()
    frame = frame.drop([c for c in frame.columns if c in LABEL_WALL_CLOCK])
    return frame.sort(frame.columns)


@pytest.mark.parametrize("table", LABEL_TABLES)
def test_dask_label_gives_the_local_tables(
    ingested: RunnerWarehouses, labeled: LabelRuns, table: str
) -> None:
    local, on_dask = label_frame(ingested.local_db, table), label_frame(ingested.dask_db, table)
    assert local.height > 0, f"{table} is empty: the comparison would prove nothing"
    # float sums of watch ratios may differ in the last bits with the order of summation
    assert_frame_equal(on_dask, local, check_exact=False, rel_tol=1e-9, abs_tol=1e-12)


def test_dask_label_ran_its_event_passes_on_both_workers_both_times(labeled: LabelRuns) -> None:
    first, after_late = labeled.on_dask
    assert first.full_rebuild and not after_late.full_rebuild
    assert 0 < after_late.generations_reaggregated < first.generations_reaggregated
    for summary in labeled.on_dask:
        assert len(summary.event_pass_workers) == WORKERS
        assert all(w.startswith("tcp://127.0.0.1:") for w in summary.event_pass_workers)
    assert all(summary.event_pass_workers == () for summary in labeled.local)
    for local, on_dask in zip(labeled.local, labeled.on_dask, strict=True):
        # the diagnostics are a frame (no == of its own): compared on their own, values exactly
        assert replace(on_dask, event_pass_workers=(), diagnostics=None) == replace(
            local, diagnostics=None
        )
        assert local.diagnostics is not None and local.diagnostics.height > 0
        assert_frame_equal(on_dask.diagnostics, local.diagnostics)
