"""Report section "5. Data health": the ingest accounting, quarantine by reason, the viewers the label stage
removed, and how late events arrived."""

from __future__ import annotations

import numpy as np
import polars as pl

from report.config import RenderConfig
from report.data import ReportData
from report.figures import (
    color_of,
    new_figure,
    plain_log_axis,
    plot_style,
    row_chart_scale,
    svg_figure,
)
from report.markup import Column, cards, empty, fmt, html_table, note


def section_health(data: ReportData, config: RenderConfig) -> str:
    late_days = data.config.late_after_days
    parts = [
        '<section id="health"><h2>5. Data health</h2>',
        cards(health_cards(data)),
        note(
            "Every row read is loaded, dropped as a duplicate delivery (repeated event_id / generation_id) or "
            "quarantined with a reason. A landing file is one delivery batch; its delivery day is the UTC "
            "day on which most of its events occurred. An event is late when it occurred "
            f"{late_days} or more day(s) before its batch's delivery day (it came in a later day's batch)."
        ),
        "<h3>Files</h3>",
        html_table(
            data.ingest_files.to_dicts(),
            [
                Column("kind", "kind", text=True),
                Column("file_format", "format", text=True),
                Column("status", "status", text=True),
                Column("files", "files"),
                Column("bytes", "bytes"),
                Column("rows_read", "read"),
                Column("rows_loaded", "loaded"),
                Column("rows_duplicate", "duplicates"),
                Column("rows_quarantined", "quarantined"),
                Column("rows_unaccounted", "unaccounted"),
            ],
        ),
        "<h3>Quarantine by reason</h3>",
        quarantine_html(data.quarantine_reasons.head(config.quarantine_reasons_rows), config),
        "<h3>Viewers removed by the label stage</h3>",
    ]
    if not data.overview.get("label_runs"):
        parts.append(empty("Not recorded: the label stage has not run on this warehouse."))
    else:
        parts.append(
            html_table(
                data.abnormal_viewers.to_dicts(),
                [
                    Column("reason", "rule", text=True),
                    Column("viewers", "viewers"),
                    Column("events", "their events"),
                ],
            )
        )
    parts.append("<h3>Event lateness</h3>")
    parts.append(lateness_html(data.lateness, late_days, config))
    parts.append("</section>")
    return "".join(parts)


def health_cards(data: ReportData) -> list[tuple[str, str]]:
    """The headline figures: files and rows ingested, late events, viewers removed as bots."""
    files = data.ingest_files
    totals = {
        c: int(files[c].sum()) if not files.is_empty() else 0
        for c in ("files", "rows_read", "rows_loaded", "rows_duplicate", "rows_quarantined")
    }
    if not data.overview.get("label_runs"):
        bots = "not recorded"
    else:
        bots = fmt(
            int(data.abnormal_viewers["viewers"].sum())
            if not data.abnormal_viewers.is_empty()
            else 0
        )
    return [
        ("files ingested", fmt(totals["files"])),
        ("rows read", fmt(totals["rows_read"])),
        ("rows loaded", fmt(totals["rows_loaded"])),
        ("duplicates dropped", fmt(totals["rows_duplicate"])),
        ("rows quarantined", fmt(totals["rows_quarantined"])),
        ("late events", fmt(data.late_events)),
        ("bot / abnormal viewers removed", bots),
    ]


def quarantine_html(reasons: pl.DataFrame, config: RenderConfig) -> str:
    """Quarantined rows per kind and reason: a bar chart and the table."""
    if reasons.is_empty():
        return empty("No quarantined rows.")
    rows = reasons.to_dicts()
    with plot_style():
        fig, ax = new_figure(config, height_scale=row_chart_scale(config, len(rows)))
        y = np.arange(len(rows))
        ax.barh(y, [r["rows_quarantined"] for r in rows], color=color_of(4))
        ax.set_yticks(y, [f"{r['kind']}: {r['reason_code']}" for r in rows])
        ax.invert_yaxis()
        ax.set_xlabel("rows quarantined")
        figure = svg_figure(fig, "quarantine", "quarantined rows by reason")
    return figure + html_table(
        rows,
        [
            Column("kind", "kind", text=True),
            Column("reason_code", "reason", text=True),
            Column("rows_quarantined", "rows"),
            Column("files", "files"),
        ],
    )


def lateness_html(lateness: pl.DataFrame, late_days: int, config: RenderConfig) -> str:
    """Events per lag in days (capped at `config.lateness_max_days`), the late ones in red, log scale."""
    if lateness.is_empty():
        return empty("No events.")
    cap = config.lateness_max_days
    pooled = (
        lateness.with_columns(lag_days=pl.min_horizontal("lag_days", pl.lit(cap)))
        .group_by("lag_days")
        .agg(pl.col("events").sum())
        .sort("lag_days")
    )
    with plot_style():
        fig, ax = new_figure(config, height_scale=0.8)
        colors = [color_of(1) if d >= late_days else color_of(0) for d in pooled["lag_days"]]
        ax.bar(pooled["lag_days"].to_list(), pooled["events"].to_list(), color=colors)
        ax.set_yscale("log")
        plain_log_axis(ax.yaxis)
        ax.set_xlabel(f"delivery day − occurred day, in days ({cap} = {cap} or more; red = late)")
        ax.set_ylabel("events (log)")
        return svg_figure(fig, "lateness", "event lateness")
