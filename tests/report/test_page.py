"""The report page rendered from tiny warehouses: every value escaped, an empty warehouse handled, and a
size that does not grow with longer tables."""

from __future__ import annotations

import html
from dataclasses import replace
from datetime import UTC, datetime

from report.config import ReportConfig
from report.data import ReportData
from report.derive import derive_report_data
from report.page import render_report
from warehouse.connection import connect
from warehouse.report_data import create_report_views, read_report_views


def tiny_report(model_version: str) -> ReportData:
    """A warehouse of three generations whose model_version is hostile text."""
    con = connect()
    for i, (version, quality) in enumerate(
        [(model_version, 0.2), (model_version, 0.4), ("v2", 0.9)]
    ):
        con.execute(
            "insert into generations (generation_id, request_id, creator_id, prompt, model_version, created_at, "
            "duration_ms, source_file, source_row, ingested_at) values (?, 'r', 'c', 'a <b>bold</b> prompt', ?, "
            "'2025-01-01 00:00:00+00', 4000, 'f', ?, '2025-01-02 00:00:00+00')",
            [f"g{i}", version, i],
        )
        con.execute(
            "insert into labels (generation_id, model_version, label_version, impressions, views, likes, "
            "favorites, shares, comments, downloads, dislikes, reports, studio_impressions, selects, regenerates, "
            "quality_score, quality_low, quality_high, label, labeled_at) values (?, ?, 'lv', 1, 1, 0, 0, 0, 0, 0, "
            "0, 0, 0, 0, 0, ?, 0, 1, 'uncertain', '2025-01-02 00:00:00+00')",
            [f"g{i}", version, quality],
        )
    create_report_views(con)
    data = derive_report_data(read_report_views(con), ReportConfig(ngram_min_generations=1))
    con.close()
    return data


def test_render_escapes_every_value_and_handles_an_empty_warehouse() -> None:
    hostile = '<script>alert("x")</script> $\\alpha$ & co'
    page = render_report(
        tiny_report(hostile), generated_at=datetime(2025, 1, 3, tzinfo=UTC), source="<w>.duckdb"
    )
    assert "<script" not in page
    assert html.escape(hostile, quote=True) in page
    assert "&lt;w&gt;.duckdb" in page
    assert "No champion model yet" in page and "Not recorded: the label stage has not run" in page
    con = connect()
    create_report_views(con)
    empty = render_report(
        derive_report_data(read_report_views(con)),
        generated_at=datetime(2025, 1, 3, tzinfo=UTC),
        source="empty",
    )
    con.close()
    assert (
        "No labeled generations yet" in empty and "No impressions outside the studio yet" in empty
    )


def test_render_size_does_not_grow_with_longer_tables() -> None:
    data = tiny_report("v1")
    small = render_report(data, generated_at=datetime(2025, 1, 3, tzinfo=UTC), source="w")
    wide = replace(data, config=replace(data.config, ngram_rows=500))
    assert len(
        render_report(wide, generated_at=datetime(2025, 1, 3, tzinfo=UTC), source="w")
    ) < 2 * len(small)
