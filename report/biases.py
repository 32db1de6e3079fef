"""Report section "4. Biases the labels correct": view rate by feed position and completion by video
duration, before and after the labels' corrections."""

from __future__ import annotations

import numpy as np
import polars as pl

from report.config import RenderConfig
from report.data import ReportData
from report.figures import color_of, new_figure, plain_log_axis, plot_style, svg_figure
from report.markup import Column, empty, fmt, html_table, note, pct


def section_biases(data: ReportData, config: RenderConfig) -> str:
    parts = ['<section id="biases"><h2>4. Biases the labels correct</h2>']
    parts.append("<h3>View rate by feed position</h3>")
    parts.append(
        note(
            "View rate (views / impressions) at each feed slot relative to slot 0, log scale. Before: raw "
            "feed events. Clean: without the viewers the label stage removed (bots browse deep slots and "
            "inflate them). After: clean views over the views the slot's estimated examination propensity "
            "predicts — the position effect divided out. What slope remains after the correction is the "
            "ranker showing better videos higher, which the labels keep as quality. Slots ≥ "
            f"{data.config.max_position} are pooled."
        )
    )
    parts.append(position_figure(data.position_bias, data.config.max_position, config))
    parts.append(position_table(data.position_bias))
    parts.append("<h3>Completion by video duration</h3>")
    parts.append(
        note(
            "Before: share of views watched to the end (watch_ms ≥ duration_ms). After: mean of the labels' "
            "debiased completion_score (a generation's completion ranked among videos of similar duration) "
            "of the generations in the bucket. Buckets hold about equal numbers of "
            f"labeled generations ({data.config.duration_buckets} buckets). Short videos are finished more "
            "often whatever their quality; after the correction they should not score higher for it."
        )
    )
    parts.append(duration_html(data.duration_bias, config))
    parts.append("</section>")
    return "".join(parts)


def position_table(position: pl.DataFrame) -> str:
    if position.is_empty():
        return ""
    return html_table(
        position.to_dicts(),
        [
            Column("position", "slot"),
            Column("impressions", "impressions", lambda v: fmt(int(v)) if v is not None else "–"),
            Column("raw_view_rate", "raw view rate", pct),
            Column("clean_view_rate", "clean view rate", pct),
            Column("corrected_view_rate", "corrected view rate", pct),
            Column("raw_vs_top", "raw vs slot 0", lambda v: fmt(v, 2)),
            Column("corrected_vs_top", "corrected vs slot 0", lambda v: fmt(v, 2)),
        ],
    )


def duration_html(duration: pl.DataFrame, config: RenderConfig) -> str:
    """Raw completion rate beside the labels' completion_score per duration bucket: figure and table."""
    if duration.is_empty():
        return empty("No views of generations with a known duration.")
    mid = ((duration["duration_from_s"] + duration["duration_to_s"] + 1) / 2).to_list()
    with plot_style():
        fig, ax = new_figure(config)
        ax.plot(
            mid,
            duration["raw_completion_rate"],
            marker="o",
            markersize=3,
            color=color_of(1),
            label="before: raw completion rate",
        )
        ax.plot(
            mid,
            duration["mean_completion_score"],
            marker="s",
            markersize=3,
            color=color_of(2),
            label="after: mean completion_score (labels)",
        )
        ax.set_xlabel("video duration (s, bucket middle)")
        ax.set_ylabel("rate / score")
        ax.set_ylim(bottom=0)
        ax.legend(loc="best", frameon=False, fontsize=8)
        figure = svg_figure(fig, "duration-bias", "completion by duration")
    return figure + html_table(
        duration.to_dicts(),
        [
            Column("duration_from_s", "from (s)"),
            Column("duration_to_s", "to (s)"),
            Column("views", "views"),
            Column("raw_completion_rate", "raw completion", pct),
            Column("labeled_generations", "labeled generations"),
            Column("mean_completion_score", "mean completion_score"),
        ],
    )


def position_figure(position: pl.DataFrame, max_position: int, config: RenderConfig) -> str:
    if position.is_empty():
        return empty("No feed impressions with a position.")
    series = (
        ("raw_vs_top", "before: raw (bots in)", color_of(1), "o", "-"),
        ("clean_vs_top", "clean (bots removed)", color_of(4), ".", "--"),
        ("corrected_vs_top", "after: position-corrected", color_of(2), "s", "-"),
    )
    with plot_style():
        fig, ax = new_figure(config)
        for column, label, color, marker, style in series:
            values = position[column].to_numpy().astype(float)
            if np.isfinite(values).any() and (values[np.isfinite(values)] > 0).any():
                ax.plot(
                    position["position"],
                    np.where(values > 0, values, np.nan),
                    marker=marker,
                    markersize=3,
                    color=color,
                    linestyle=style,
                    label=label,
                )
        ax.set_yscale("log")
        plain_log_axis(ax.yaxis)
        ax.axhline(1.0, color="#888", linestyle=":", linewidth=1)
        ax.set_xlabel(f"feed position (0 = top; {max_position} = {max_position}+)")
        ax.set_ylabel("view rate relative to slot 0 (log)")
        ax.legend(loc="lower left", frameon=False, fontsize=8)
        note_text = (
            ""
            if position["corrected_vs_top"].is_not_null().any()
            else empty(
                "After: not available — the label stage has not fitted position propensities."
            )
        )
        return (
            svg_figure(fig, "position-bias", "view rate by feed position relative to the top slot")
            + note_text
        )
