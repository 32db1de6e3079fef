"""Report section "3. Engagement funnel": viewer–generation pairs from shown to downloaded, overall as a
log-scale bar chart and per model_version as rates of the shown pairs."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from report.config import RenderConfig
from report.data import ReportData
from report.figures import color_of, new_figure, plain_log_axis, plot_style, svg_figure
from report.markup import Column, empty, html_table, note, pct

FUNNEL_STAGES: tuple[tuple[str, str], ...] = (
    ("shown", "shown (impression)"),
    ("viewed", "viewed"),
    ("completed", "completed (watch ≥ duration)"),
    ("liked", "liked (net of unlikes)"),
    ("shared", "shared"),
    ("downloaded", "downloaded"),
)


def section_funnel(data: ReportData, config: RenderConfig) -> str:
    parts = [
        '<section id="funnel"><h2>3. Engagement funnel</h2>',
        note(
            "Viewer–generation pairs outside the studio, from the events as ingested (duplicate deliveries "
            "dropped, bots still in). Each stage counts pairs that were shown the video and did the action; "
            "like, share and download count only pairs that also viewed it. Rates are of shown pairs."
        ),
    ]
    funnel = data.funnel
    total = funnel.filter(pl.col("model_version") == "(all)").sort("stage_order")
    if total.is_empty() or int(total.filter(pl.col("stage") == "shown")["pairs"].sum()) == 0:
        parts.append(empty("No impressions outside the studio yet."))
        parts.append("</section>")
        return "".join(parts)
    parts.append(funnel_figure(total.to_dicts(), config))
    wide = (
        funnel.pivot(on="stage", index="model_version", values="rate_of_shown")
        .join(
            funnel.filter(pl.col("stage") == "shown").select("model_version", shown_pairs="pairs"),
            on="model_version",
        )
        .sort(pl.col("model_version") == "(all)", "model_version")
    )
    parts.append("<h3>Rates of shown pairs, per model_version</h3>")
    parts.append(
        html_table(
            wide.to_dicts(),
            [
                Column("model_version", "model_version", text=True),
                Column("shown_pairs", "shown pairs"),
            ]
            + [Column(stage, label, pct) for stage, label in FUNNEL_STAGES[1:]],
        )
    )
    parts.append("</section>")
    return "".join(parts)


def funnel_figure(rows: list[dict[str, Any]], config: RenderConfig) -> str:
    """The overall funnel: one log-scale bar per stage, labeled with its pairs and rate of shown."""
    names = dict(FUNNEL_STAGES)
    with plot_style():
        fig, ax = new_figure(config, height_scale=0.9)
        y = np.arange(len(rows))
        values = [r["pairs"] for r in rows]
        ax.barh(y, values, color=[color_of(0)] * 3 + [color_of(2)] * (len(rows) - 3))
        ax.set_yticks(y, [names.get(r["stage"], r["stage"]) for r in rows])
        ax.invert_yaxis()
        ax.set_xscale("log")
        plain_log_axis(ax.xaxis)
        for yi, r in zip(y, rows, strict=True):
            if r["pairs"] > 0:
                ax.text(
                    r["pairs"],
                    yi,
                    f"  {r['pairs']:,} ({pct(r['rate_of_shown'])})",
                    va="center",
                    fontsize=8,
                )
        ax.set_xlabel("viewer–generation pairs (log scale)")
        ax.margins(x=0.25)
        return svg_figure(fig, "funnel", "engagement funnel")
