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
