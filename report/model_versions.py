"""Report section "1. Model versions": versions compared on the same prompts (within-request
differences, paired t-tests, Holm-corrected), then mean quality per version as served (raw, prompt mix
not adjusted) with confidence intervals and Welch tests, and quality over time. Every figure is
label-based: engagement labels, not ground truth."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from report.config import RenderConfig
from report.data import ReportData
from report.figures import color_of, new_figure, plot_style, plot_text, row_chart_scale, svg_figure
from report.markup import Column, empty, fmt, html_table, note, p_value

LABEL_BASED = (
    "Label-based: these compare engagement labels (quality_score), which estimate quality from how "
    "viewers and creators reacted; they are not ground truth."
)


def section_versions(data: ReportData, config: RenderConfig) -> str:
    quality = data.version_quality
    level = f"{100 * data.config.confidence:g}%"
    parts = ['<section id="versions"><h2>1. Model versions</h2>', note(LABEL_BASED)]
    if quality.is_empty():
        parts.append(empty("No labeled generations yet: run `reelloop label`."))
        parts.append("</section>")
        return "".join(parts)
    parts.append("<h3>On the same prompts (prompt mix removed)</h3>")
    parts.append(
        note(
            "Within each request whose candidates came from two versions (same prompt, creator and "
            "time), the difference of the versions' mean quality_score; averaged over those requests "
            f"with {level} confidence intervals, one-sample t-tests Holm-corrected across the pairs at "
            f"family-wise alpha {data.config.family_alpha:g}. This is the comparison to act on: it "
            "does not reward a version for being given easier prompts."
        )
    )
    parts.append(paired_html(data.version_paired, config, level))
    parts.append("<h3>As served (raw: prompt mix not adjusted)</h3>")
    parts.append(
        note(
            f"Mean label quality_score of each version's generations with {level} confidence intervals "
            "(Student t on the generation-level spread); pairwise Welch t-tests, Holm-corrected. "
            "Versions served different prompts and periods, so a version used for harder prompts "
            "looks worse here than it is."
        )
    )
    rows = quality.to_dicts()
    parts.append(versions_figure(rows, config, level))
    parts.append(versions_table(rows, level))
    parts.append(version_pairs_html(data.version_pairs))
    parts.append("<h3>Over time (by UTC day of created_at, raw)</h3>")
    parts.append(version_daily_figure(data.version_daily, config, level))
    parts.append("</section>")
    return "".join(parts)


def paired_html(paired: pl.DataFrame, config: RenderConfig, level: str) -> str:
    """The within-request differences: a figure of each pair's mean difference with its interval,
    and the table of tests."""
    if paired.is_empty():
        return empty(
            "No two versions met in two or more requests: nothing to compare on the same prompts."
        )
    rows = paired.to_dicts()
    with plot_style():
        fig, ax = new_figure(config, height_scale=row_chart_scale(config, len(rows)))
        y = np.arange(len(rows))
        means = np.array([r["mean_difference"] for r in rows], dtype=float)
        lows = np.array([r["ci_low"] for r in rows], dtype=float)
        highs = np.array([r["ci_high"] for r in rows], dtype=float)
        ax.errorbar(
            means, y, xerr=[means - lows, highs - means], fmt="o", color=color_of(2), capsize=4
        )
        ax.axvline(0.0, color="#333", linestyle="--", linewidth=1)
        ax.set_yticks(y, [plot_text(f"{r['version_a']} − {r['version_b']}") for r in rows])
        ax.invert_yaxis()
        ax.set_xlabel(f"mean within-request difference of quality_score ({level} CI)")
        figure = svg_figure(fig, "versions-paired", "model versions compared on the same prompts")
    significant = int(paired["significant"].sum())
    return (
        figure
        + note(f"{significant} of {paired.height} pairs differ significantly (highlighted).")
        + html_table(
            rows,
            [
                Column("version_a", "version A", text=True),
                Column("version_b", "version B", text=True),
                Column("requests", "requests"),
                Column("mean_difference", "A − B", lambda v: fmt(v, 4)),
                Column("ci_low", f"{level} CI low", lambda v: fmt(v, 4)),
                Column("ci_high", f"{level} CI high", lambda v: fmt(v, 4)),
                Column("p_value", "p", p_value),
                Column("p_holm", "p (Holm)", p_value),
                Column("significant", "significant"),
            ],
            row_class=lambda r: "sig" if r["significant"] else "",
        )
    )


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
