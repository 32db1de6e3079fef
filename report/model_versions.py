"""Report section "1. Model versions": mean quality per version with confidence intervals, the pairwise
Welch tests (Holm-corrected), and quality over time."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from report.config import RenderConfig
from report.data import ReportData
from report.figures import color_of, new_figure, plot_style, plot_text, row_chart_scale, svg_figure
from report.markup import Column, empty, fmt, html_table, note, p_value


def section_versions(data: ReportData, config: RenderConfig) -> str:
    quality = data.version_quality
    level = f"{100 * data.config.confidence:g}%"
    parts = [
        '<section id="versions"><h2>1. Model versions</h2>',
        note(
            f"Mean label quality_score of the generations of each model_version with {level} confidence "
            "intervals (Student t on the generation-level spread). Pairwise differences: Welch t-tests, "
            f"Holm-corrected across all pairs at family-wise alpha {data.config.family_alpha:g}. "
            "Versions are compared on whatever prompts they served, so a version used for harder prompts "
            "looks worse than it is."
        ),
    ]
    if quality.is_empty():
        parts.append(empty("No labeled generations yet: run `reelloop label`."))
        parts.append("</section>")
        return "".join(parts)
    rows = quality.to_dicts()
    parts.append(versions_figure(rows, config, level))
    parts.append(versions_table(rows, level))
    parts.append("<h3>Pairwise differences</h3>")
    parts.append(version_pairs_html(data.version_pairs))
    parts.append("<h3>Over time (by UTC day of created_at)</h3>")
    parts.append(version_daily_figure(data.version_daily, config, level))
    parts.append("</section>")
    return "".join(parts)


def versions_figure(rows: list[dict[str, Any]], config: RenderConfig, level: str) -> str:
    """Mean quality per version as dots with confidence-interval error bars."""
    with plot_style():
        fig, ax = new_figure(config, height_scale=row_chart_scale(config, len(rows)))
        y = np.arange(len(rows))
        means = np.array([r["mean_quality"] for r in rows], dtype=float)
        lows = np.array(
            [r["ci_low"] if r["ci_low"] is not None else r["mean_quality"] for r in rows],
            dtype=float,
        )
        highs = np.array(
            [r["ci_high"] if r["ci_high"] is not None else r["mean_quality"] for r in rows],
            dtype=float,
        )
        ax.errorbar(
            means, y, xerr=[means - lows, highs - means], fmt="o", color=color_of(0), capsize=4
        )
        ax.set_yticks(y, [plot_text(r["model_version"]) for r in rows])
        ax.invert_yaxis()
        ax.set_xlabel(f"mean quality_score ({level} CI)")
        return svg_figure(
            fig, "versions", "mean quality by model version with confidence intervals"
        )


def versions_table(rows: list[dict[str, Any]], level: str) -> str:
    return html_table(
        rows,
        [
            Column("model_version", "model_version", text=True),
            Column("generations", "generations"),
            Column("mean_quality", "mean quality"),
            Column("ci_low", f"{level} CI low"),
            Column("ci_high", f"{level} CI high"),
            Column("sd_quality", "sd"),
            Column("good", "good"),
            Column("uncertain", "uncertain"),
            Column("bad", "bad"),
        ],
    )


def version_pairs_html(pairs: pl.DataFrame) -> str:
    """How many pairs differ significantly, and the table of every pair's Welch test."""
    if pairs.is_empty():
        return empty(
            "Fewer than two versions with two or more labeled generations: nothing to compare."
        )
    significant = int(pairs["significant"].sum())
    return note(
        f"{significant} of {pairs.height} pairs differ significantly (highlighted)."
    ) + html_table(
        pairs.to_dicts(),
        [
            Column("version_a", "version A", text=True),
            Column("version_b", "version B", text=True),
            Column("difference", "mean A − mean B", lambda v: fmt(v, 4)),
            Column("t_statistic", "Welch t", lambda v: fmt(v, 2)),
            Column("p_value", "p", p_value),
            Column("p_holm", "p (Holm)", p_value),
            Column("significant", "significant"),
        ],
        row_class=lambda r: "sig" if r["significant"] else "",
    )


def version_daily_figure(daily: pl.DataFrame, config: RenderConfig, level: str) -> str:
    if daily.is_empty():
        return empty("No labeled generations with a known creation day.")
    with plot_style():
        fig, ax = new_figure(config)
        for i, (version, frame) in enumerate(
            daily.sort("created_day").group_by("model_version", maintain_order=True)
        ):
            days = frame["created_day"].to_list()
            mean = frame["mean_quality"].to_numpy()
            color = color_of(i)
            ax.plot(days, mean, marker="o", markersize=3, color=color, label=plot_text(version[0]))
            low = frame["ci_low"].fill_null(frame["mean_quality"]).to_numpy()
            high = frame["ci_high"].fill_null(frame["mean_quality"]).to_numpy()
            ax.fill_between(days, low, high, color=color, alpha=0.15, linewidth=0)
        ax.set_ylabel(f"mean quality_score ({level} CI band)")
        ax.legend(loc="best", fontsize=8, frameon=False)
        fig.autofmt_xdate()
        return svg_figure(fig, "versions-daily", "mean quality by model version and day")
