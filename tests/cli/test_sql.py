"""Readers never block writers: the published snapshot, `Warehouse.writer()` and `reelloop sql`."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from cli import main as cli
from cli.sql import SqlOutputConfig, run_query, run_sql_command
from warehouse.resource import Warehouse
from warehouse.snapshot import SnapshotConfig, current_snapshot_path, snapshot_dir

# An analyst: opens the current snapshot, then reads it again each time the test asks.
ANALYST = """
import sys
from warehouse.snapshot import open_snapshot
con = open_snapshot(sys.argv[1])
for line in sys.stdin:
    print(con.execute("select count(*) from scores").fetchone()[0], flush=True)
"""

INSERT_SCORE = "insert into scores (generation_id, model_id, score, scored_at) values (?, 'm1', ?, current_timestamp)"


def add_scores(warehouse: Warehouse, *pairs: tuple[str, float]) -> None:
    with warehouse.writer() as con:
        con.executemany(INSERT_SCORE, [list(p) for p in pairs])


def test_an_analyst_holding_the_snapshot_never_fails_a_writer(tmp_path: Path) -> None:
    warehouse = Warehouse(str(tmp_path / "reelloop.duckdb"))
    add_scores(warehouse, ("g1", 0.1))
    script = tmp_path / "analyst.py"
    script.write_text(ANALYST, encoding="utf-8")
    analyst = subprocess.Popen(
        [sys.executable, str(script), warehouse.path],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert analyst.stdin is not None and analyst.stdout is not None
    try:
        analyst.stdin.write("read\n")
        analyst.stdin.flush()
        assert analyst.stdout.readline().strip() == "1"
        held = current_snapshot_path(warehouse.path)
        # two publishes while the analyst holds the file; the second collects it
        collect_at_once = SnapshotConfig(keep_previous=0, retain_seconds=0)
        with warehouse.writer() as con:
            con.execute(INSERT_SCORE, ["g2", 0.2])
        with replace(warehouse, snapshot_config=collect_at_once).writer() as con:
            con.execute(INSERT_SCORE, ["g3", 0.3])
        assert held is not None and not held.exists()
        analyst.stdin.write("read\n")
        analyst.stdin.flush()
        assert analyst.stdout.readline().strip() == "1"  # still its own, consistent copy
    finally:
        analyst.stdin.close()
        analyst.wait(timeout=30)
    assert analyst.returncode == 0
    with warehouse.snapshot() as con:
        assert con.execute("select count(*) from scores").fetchone() == (3,)
    assert current_snapshot_path(warehouse.path).name == "snapshot-000003.duckdb"


def test_a_failed_write_publishes_nothing(tmp_path: Path) -> None:
    warehouse = Warehouse(str(tmp_path / "reelloop.duckdb"))
    add_scores(warehouse, ("g1", 0.1))
    before = current_snapshot_path(warehouse.path)
    with pytest.raises(RuntimeError, match="stage broke"), warehouse.writer() as con:
        con.execute(INSERT_SCORE, ["g2", 0.2])
        raise RuntimeError("stage broke")
    assert current_snapshot_path(warehouse.path) == before
    assert len(list(snapshot_dir(warehouse.path).glob("snapshot-*.duckdb"))) == 1


@pytest.fixture
def analyst_warehouse(tmp_path: Path) -> Warehouse:
    warehouse = Warehouse(str(tmp_path / "reelloop.duckdb"))
    add_scores(
        warehouse,
        ("g1", 0.5),
        ("g2-" + "x" * 60, 0.123456789),
        ("g3\nnewline", 1.0),
    )
    return warehouse


def query(warehouse: Warehouse, sql: str, **options) -> str:
    out = io.StringIO()
    with warehouse.snapshot() as con:
        run_query(con, sql, out, SqlOutputConfig(**options))
    return out.getvalue()


def test_table_output_is_fixed_width_and_cuts_long_values(analyst_warehouse: Warehouse) -> None:
    text = query(
        analyst_warehouse,
        "select generation_id, score from scores order by score",
        max_width=12,
    )
    lines = text.splitlines()
    assert lines[0] == "generation_… | score"
    assert lines[1] == "-------------+---------"
    assert lines[2] == "g2-xxxxxxxx… | 0.123457"
    assert lines[3] == "g1           |      0.5"
    assert lines[4] == "g3\\nnewline  |        1"
    assert lines[5] == "(3 rows)"


def test_table_output_says_when_rows_were_left_out(analyst_warehouse: Warehouse) -> None:
    text = query(analyst_warehouse, "select score from scores order by score", max_rows=2)
    assert text.splitlines()[-1].startswith("(first 2 rows shown")
    assert len(text.splitlines()) == 5


def test_csv_and_json_lines_print_every_row_in_full(analyst_warehouse: Warehouse) -> None:
    csv_text = query(
        analyst_warehouse,
        "select generation_id, score from scores order by score",
        output_format="csv",
    )
    assert csv_text.splitlines()[:2] == ["generation_id,score", "g2-" + "x" * 60 + ",0.123456789"]
    json_text = query(
        analyst_warehouse,
        "select generation_id, score, scored_at from scores order by score",
        output_format="json",
        batch_rows=1,
    )
    records = [json.loads(line) for line in json_text.splitlines()]
    assert [r["score"] for r in records] == [0.123456789, 0.5, 1.0]
    assert records[2]["generation_id"] == "g3\nnewline"
    assert records[0]["scored_at"].endswith("+00:00")


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("insert into scores select * from scores", "read-only: INSERT"),
        ("drop table scores", "read-only: DROP"),
        ("attach 'other.duckdb' as other", "read-only: ATTACH"),
        ("copy scores to 'out.csv'", "read-only: COPY"),
        ("select * from read_csv('/etc/hostname')", "Permission Error"),
        ("select 1; select 2", "exactly one SQL statement"),
        ("select * from no_such_table", "Catalog Error"),
        ("selec 1", "Parser Error"),
    ],
)
def test_writes_and_bad_queries_are_one_line_errors(
    analyst_warehouse: Warehouse, sql: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        query(analyst_warehouse, sql)
    assert "\n" not in str(caught.value)


def test_sql_verb_exits_2_with_one_line(
    analyst_warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    assert (
        cli.main(["--db", analyst_warehouse.path, "sql", "select count(*) as n from scores"]) == 0
    )
    assert capsys.readouterr().out.splitlines() == ["n", "-", "3", "(1 row)"]
    assert cli.main(["--db", analyst_warehouse.path, "sql", "delete from scores"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("reelloop sql: error: reelloop sql is read-only")


def test_sql_publishes_a_first_snapshot_of_an_older_warehouse(tmp_path: Path, capsys) -> None:
    warehouse = Warehouse(str(tmp_path / "reelloop.duckdb"))
    with warehouse.connection() as con:  # written without a snapshot
        con.execute(INSERT_SCORE, ["g1", 0.5])
    args = argparse.Namespace(
        db=warehouse.path,
        query="select count(*) as n from scores",
        output_format="csv",
        max_rows=10,
        max_width=40,
    )
    assert run_sql_command(args) == 0
    assert capsys.readouterr().out.splitlines() == ["n", "1"]
    with warehouse.snapshot() as con:
        assert con.execute("select count(*) from scores").fetchone() == (1,)
    with pytest.raises(FileNotFoundError, match="no warehouse"):
        run_sql_command(argparse.Namespace(**{**vars(args), "db": str(tmp_path / "none.duckdb")}))
