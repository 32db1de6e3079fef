"""The landing-file writers round-trip every format and leave absent JSON fields out."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import polars as pl

from landing.writers import json_lines, json_value_columns, write_records


def test_writers_round_trip_every_format_and_omit_null_json_fields(
    tmp_path: Path, read_rows: Callable[[Path], list[dict | None]]
) -> None:
    frame = pl.DataFrame(
        {
            "id": ["a", 'say "hi"'],
            "n": [1, None],
            "tags": [["x", "y"], None],
            "refs": [[{"kind": "image", "uri": "s3://r/1.png"}], None],
        }
    )
    lines = json_lines(json_value_columns(frame)).to_list()
    assert [json.loads(line) for line in lines] == [
        {"id": "a", "n": 1, "tags": ["x", "y"], "refs": [{"kind": "image", "uri": "s3://r/1.png"}]},
        {"id": 'say "hi"'},
    ]
    for file_format in ("jsonl", "jsonl.gz", "parquet", "csv"):
        path = tmp_path / f"f.{file_format}"
        assert write_records(frame, path, file_format) == path.stat().st_size
        rows = read_rows(path)
        assert [row["id"] for row in rows] == ["a", 'say "hi"']
        tags = rows[0]["tags"]
        assert (json.loads(tags) if file_format == "csv" else tags) == ["x", "y"]
    assert not list(tmp_path.glob(".*"))
