"""The ingest verb's accounting table, from the summary of a run's files."""

from __future__ import annotations

from cli.ingest import format_accounting
from pipelines.ingest import summarize
from results.ingest import RowCounts
from warehouse.ingest import FileAccounting


def test_the_accounting_table_sums_kinds_reasons_and_statuses() -> None:
    files = [
        FileAccounting(
            "events/a.jsonl",
            "events",
            "jsonl",
            "loaded",
            "s1",
            10,
            7,
            4,
            1,
            2,
            {"bad_type": 1, "missing_field": 1},
        ),
        FileAccounting("events/b.csv", "events", "csv", "duplicate_content", "s2", 10, 5, 0, 5, 0),
        FileAccounting(
            "generations/g.parquet",
            "generations",
            "parquet",
            "loaded",
            "s3",
            10,
            3,
            2,
            0,
            1,
            {"bad_type": 1},
        ),
    ]
    summary = summarize(files, seconds=2.0)
    assert summary.by_kind["events"] == RowCounts(
        files=2, rows_read=12, rows_loaded=4, rows_duplicate=6, rows_quarantined=2
    )
    assert summary.quarantined_by_reason == {"bad_type": 2, "missing_field": 1}
    assert summary.files_by_status == {"duplicate_content": 1, "loaded": 2}
    assert summary.rows_per_second == 8
    table = format_accounting(summary).splitlines()
    assert table[2].split() == ["events", "2", "12", "4", "6", "2"]
    assert table[4].split() == ["total", "3", "15", "6", "6", "3"]
    assert table[5] == "quarantined by reason: bad_type 2, missing_field 1"


def test_failed_files_are_counted_listed_and_make_the_command_exit_3(monkeypatch, tmp_path) -> None:
    import argparse

    import cli.ingest

    files = [
        FileAccounting("events/a.jsonl", "events", "jsonl", "loaded", "s1", 10, 2, 2, 0, 0),
        FileAccounting("events/b.parquet", "events", "parquet", "unreadable", "s2", 10, 0, 0, 0, 0),
        FileAccounting(
            "events/c.txt", "events", "unsupported", "unsupported_format", "", 1, 0, 0, 0, 0
        ),
        FileAccounting(
            "events/d.csv",
            "events",
            "csv",
            "no_csv_header",
            "s4",
            9,
            3,
            0,
            0,
            3,
            {"malformed_record": 3},
        ),
        FileAccounting(
            "events/e.jsonl", "events", "jsonl", "already_ingested", "s5", 9, 0, 0, 0, 0
        ),
    ]
    summary = summarize(files, seconds=1.0)
    assert summary.total.files == 4 and summary.concurrent_files == 1
    assert summary.files_quarantined_by_reason == {"unreadable_file": 1, "unsupported_format": 1}
    assert summary.failed_files == {
        "events/b.parquet": "unreadable",
        "events/c.txt": "unsupported_format",
        "events/d.csv": "no_csv_header",
    }
    table = format_accounting(summary).splitlines()
    assert "whole files quarantined (row 0): unreadable_file 1, unsupported_format 1" in table
    assert "files not loaded: 3" in table and "  events/d.csv (no_csv_header)" in table

    (tmp_path / "events").mkdir()
    monkeypatch.setattr(cli.ingest, "run_stage", lambda *args, **kwargs: summary)
    args = argparse.Namespace(
        landing_dir=str(tmp_path),
        db="w.duckdb",
        max_future_skew_hours=24.0,
        min_timestamp="2000-01-01T00:00:00+00:00",
        max_line_bytes=1000,
        memory_limit=None,
        threads=None,
        staging_dir=None,
    )
    assert cli.ingest.run(args) == cli.ingest.FAILED_FILES_EXIT == 3
    clean = summarize(files[:1], seconds=1.0)
    monkeypatch.setattr(cli.ingest, "run_stage", lambda *args, **kwargs: clean)
    assert cli.ingest.run(args) == 0
