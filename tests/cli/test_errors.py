"""User errors end in exactly one line on stderr and exit 2, never a traceback; a reader holding
the warehouse open makes a writer wait, then the writer finishes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from cli.main import main

REPO = Path(__file__).resolve().parents[2]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, list[str]]:
    """(exit code, stdout, stderr lines) of `reelloop argv` in this process."""
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err.splitlines()


def assert_one_line_error(result: tuple[int, str, list[str]], verb: str, *words: str) -> None:
    code, _, err = result
    assert code == 2, err
    assert len(err) == 1 and err[0].startswith(f"reelloop {verb}: error: "), err
    assert all(word in err[0] for word in words), err


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """A small simulation ingested, labeled and trained with `--kind both` (no Prefect API)."""
    root = tmp_path_factory.mktemp("trained")
    db, sim = root / "wh" / "reelloop.duckdb", root / "sim"
    for argv in (
        ["simulate", "--out", str(sim), "--requests", "80", "--seed", "4"],
        ["ingest", str(sim / "landing")],
        ["label"],
        ["train", "--kind", "both"],
    ):
        assert main(["--db", str(db), *argv]) == 0, argv
    yield db, sim


def promoted_per_run(db: Path) -> list[int]:
    """Promotions per train run (models registered in one run share their training fingerprint)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return [
            n
            for (n,) in con.execute(
                "select count(*) filter (where h.promoted) from champion_history h "
                "join model_registry m using (model_id) "
                "group by json_extract_string(m.metrics, '$.training_fingerprint') "
                "order by all"
            ).fetchall()
        ]
    finally:
        con.close()


def test_train_both_kinds_promotes_at_most_one_model(trained, capsys) -> None:
    db, _ = trained
    code, out, _ = run(capsys, "--db", str(db), "train", "--kind", "both", "--pairwise-c", "0.3")
    assert code == 0
    assert out.count("PROMOTED to champion") <= 1
    assert "at most one promotion per run" in out or out.count("not promoted") == 2
    con = duckdb.connect(str(db), read_only=True)
    try:
        champions = con.execute("select count(*) from model_registry where is_champion").fetchone()
        models = con.execute("select count(*) from model_registry").fetchone()
    finally:
        con.close()
    assert champions == (1,) and models == (4,)
    assert promoted_per_run(db) in ([0, 1], [1, 1], [1, 0])


def test_rank_of_an_unknown_request(trained, capsys) -> None:
    db, _ = trained
    result = run(capsys, "--db", str(db), "rank", "no-such-request")
    assert_one_line_error(result, "rank", "no generations for request 'no-such-request'")


def test_score_prompt_of_an_empty_prompt(trained, capsys) -> None:
    db, _ = trained
    assert_one_line_error(run(capsys, "--db", str(db), "score-prompt", ""), "score-prompt", "empty")
    assert_one_line_error(run(capsys, "--db", str(db), "score-prompt", "  "), "score-prompt")


def test_score_prompt_warns_about_an_unknown_model_version(trained, capsys) -> None:
    db, _ = trained
    code, out, err = run(
        capsys, "--db", str(db), "score-prompt", "a fox", "--model-version", "vidgen-9", "--json"
    )
    assert code == 0
    assert err == [
        "reelloop score-prompt: warning: the champion never saw model version(s) vidgen-9 in "
        "training: their figures use no version effect"
    ]
    (row,) = json.loads(out)["rows"]
    assert row["model_version"] == "vidgen-9" and row["known"] is False


def test_export_to_an_unwritable_or_impossible_path(trained, capsys, tmp_path) -> None:
    db, _ = trained
    (tmp_path / "a-file").write_text("not a folder")
    for out in ("/proc/reelloop-export", str(tmp_path / "a-file" / "out")):
        result = run(capsys, "--db", str(db), "export", "--out", out)
        assert_one_line_error(result, "export", f"cannot write the export to {out}")


def test_evaluate_labels_with_a_truth_file_that_is_not_parquet(trained, capsys, tmp_path) -> None:
    db, _ = trained
    truth = tmp_path / "truth.csv"
    truth.write_text("generation_id,true_quality\ng1,0.5\n")
    result = run(capsys, "--db", str(db), "evaluate-labels", "--truth", str(truth))
    assert_one_line_error(result, "evaluate-labels", "is not a readable Parquet file")


def test_a_global_option_after_the_verb_works(trained, capsys) -> None:
    db, _ = trained
    code, out, err = run(capsys, "label", "--db", str(db))
    assert code == 0 and err == []
    assert "labels are current" in out


@pytest.mark.parametrize("verb", [["label"], ["sql", "select 1"], ["ingest", "."]])
def test_a_db_that_is_not_duckdb(verb, capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    notes = tmp_path / "notes.txt"
    notes.write_text("these are my notes, not a warehouse\n" * 20)
    (tmp_path / "events").mkdir()
    result = run(capsys, "--db", str(notes), *verb)
    assert_one_line_error(result, verb[0], "not a valid DuckDB database file")


# ------------------------------------------------------------------ readers never break writers


def write_landing(root: Path) -> Path:
    (root / "events").mkdir(parents=True)
    (root / "generations").mkdir()
    rows = [
        {"generation_id": "g1", "request_id": "r1", "creator_id": "c1", "prompt": "a cat",
         "model_version": "m1", "created_at": "2025-03-01T10:00:00Z", "duration_ms": 4000}
    ]  # fmt: skip
    (root / "generations" / "g.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def cli_process(db: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "--db", str(db), *argv],
        cwd=REPO,
        env={k: v for k, v in {**os.environ, **env}.items() if not k.startswith("PREFECT_API")},
        capture_output=True,
        text=True,
        timeout=300,
    )


def hold_open(db: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process with the warehouse open read-only (an analyst's notebook) for `seconds`."""
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys, time; con = duckdb.connect(sys.argv[1], read_only=True); "
         "print('open', flush=True); time.sleep(float(sys.argv[2]))", str(db), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
    return holder


@pytest.fixture
def warehouse_with_landing(tmp_path: Path) -> tuple[Path, Path]:
    db = tmp_path / "wh" / "reelloop.duckdb"
    db.parent.mkdir()
    duckdb.connect(str(db)).close()
    return db, write_landing(tmp_path / "landing")


def test_an_open_reader_makes_ingest_wait_then_it_finishes(warehouse_with_landing) -> None:
    db, landing = warehouse_with_landing
    holder = hold_open(db, 4.0)
    try:
        started = time.monotonic()
        done = cli_process(db, "ingest", str(landing))
        waited = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 0, done.stderr
    assert f"waiting for the reader holding the warehouse (pid {holder.pid}," in done.stderr
    assert "Traceback" not in done.stderr and waited > 1.0
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("select count(*) from generations").fetchone() == (1,)
    con.close()


def test_a_reader_that_stays_gives_a_one_line_failure_after_the_wait(
    warehouse_with_landing,
) -> None:
    db, landing = warehouse_with_landing
    holder = hold_open(db, 120.0)
    try:
        done = cli_process(db, "ingest", str(landing), REELLOOP_READER_WAIT_SECONDS="1")
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if "error" in line]
    assert errors == [
        line for line in done.stderr.splitlines() if not line.startswith("reelloop: waiting")
    ]
    assert len(errors) == 1 and f"still held open by pid {holder.pid}" in errors[0]
