"""`reelloop ingest` runs the Prefect flow, prints the accounting, and is a no-op the second time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.main import main
from flows.ingest import ingest_flow
from results.ingest import RowCounts
from warehouse.connection import connect


def write_landing_zone(root: Path) -> None:
    events = [
        {
            "event_id": f"e{n}",
            "event_type": "like",
            "generation_id": "g1",
            "viewer_id": "v1",
            "occurred_at": "2024-05-01T12:00:00Z",
        }
        for n in (1, 2, 2)
    ]
    (root / "events").mkdir(parents=True)
    (root / "events" / "a.jsonl").write_text(
        "\n".join([*map(json.dumps, events), "not json"]) + "\n"
    )
    (root / "generations").mkdir()
    (root / "generations" / "g.csv").write_text(
        "generation_id,request_id,creator_id,prompt,model_version,created_at,duration_ms\n"
        "g1,r1,c1,a fox,m1,1714561200000,5000\n"
    )


def test_ingest_flow_loads_and_the_cli_prints_the_accounting(
    tmp_path: Path, prefect_harness: None, capsys: pytest.CaptureFixture[str]
) -> None:
    landing, db = tmp_path / "landing", tmp_path / "w.duckdb"
    write_landing_zone(landing)

    summary = ingest_flow(landing_dir=str(landing), db_path=str(db))

    assert summary.total == RowCounts(
        files=2, rows_read=5, rows_loaded=3, rows_duplicate=1, rows_quarantined=1
    )
    assert summary.quarantined_by_reason == {"malformed_record": 1}
    assert summary.by_kind["generations"].rows_loaded == 1
    con = connect(db)
    try:
        assert con.execute("select count(*) from events").fetchone() == (2,)
        assert con.execute("select count(*) from generations").fetchone() == (1,)
        accounting = con.execute(
            "select source_file, rows_read, rows_loaded, rows_duplicate, rows_quarantined "
            "from ingest_files order by source_file"
        ).fetchall()
        assert accounting == [("events/a.jsonl", 4, 2, 1, 1), ("generations/g.csv", 1, 1, 0, 0)]
    finally:
        con.close()

    assert main(["--db", str(db), "ingest", str(landing)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == [
        "kind",
        "files",
        "read",
        "loaded",
        "duplicate",
        "quarantined",
    ]
    assert out.splitlines()[2].split() == ["total", "0", "0", "0", "0", "0"]


def test_ingest_cli_reports_a_missing_landing_dir_as_a_user_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--db", str(tmp_path / "w.duckdb"), "ingest", str(tmp_path / "nowhere")]) == 2
    assert "landing directory not found" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["--db", str(tmp_path / "w.duckdb"), "ingest", str(tmp_path / "empty")]) == 2
    assert "neither an events/ nor a generations/ folder" in capsys.readouterr().err
