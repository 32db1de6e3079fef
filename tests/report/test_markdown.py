"""Markdown tables and JSON-safe table cells of the run-summary artifacts."""

from __future__ import annotations

import json
import math

from report.markdown import markdown_table, table_rows


def test_markdown_table_formats_escapes_and_aligns() -> None:
    text = markdown_table(
        [
            {"name": "a|b", "n": 1234, "x": 0.5, "ok": True},
            {"name": "c\nd", "n": None, "x": math.nan, "ok": False},
        ]
    )
    assert text.splitlines() == [
        "| name | n | x | ok |",
        "|---|---:|---:|---|",
        "| a\\|b | 1,234 | 0.500 | yes |",
        "| c d | - | - | no |",
    ]
    assert markdown_table([]) == "_none_"


def test_table_rows_are_json_safe_and_rounded() -> None:
    rows = table_rows([{"a": math.nan, "b": math.inf, "c": 1 / 3, "d": 7, "e": "x"}])
    assert rows == [{"a": None, "b": None, "c": 0.3333, "d": 7, "e": "x"}]
    json.dumps(rows, allow_nan=False)
