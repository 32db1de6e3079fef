"""Report section "7. Labels against the simulator's truth" (only with a truth file): agreement figures,
a 2D histogram of quality_score against true_quality, and the truth per label class and model_version."""

from __future__ import annotations

import numpy as np
from matplotlib.colors import LogNorm

from report.config import RenderConfig
from report.data import ReportData, TruthData
from report.figures import plain_log_axis, plot_style, png_figure, sized_figure
from report.markup import Column, cards, empty, fmt, html_table, note, pct


def section_truth(truth: TruthData | None, data: ReportData, config: RenderConfig) -> str:
    if truth is None:
        return ""
    a = truth.agreement
    parts = [
        '<section id="truth"><h2>7. Labels against the simulator\'s truth</h2>',
        cards(
            [
                ("Spearman(quality_score, true_quality)", fmt(a.get("spearman"))),
                ("Pearson", fmt(a.get("pearson"))),
                ("mean |score − truth|", fmt(a.get("mean_abs_error"))),
                ("truth inside [low, high]", pct(a.get("interval_coverage"))),
                ("generations compared", fmt(a.get("generations"))),
            ]
        ),
        note(
            f"{fmt(a.get('generations'))} of {fmt(a.get('labeled_generations'))} labeled generations have a "
            f"true quality ({fmt(a.get('truth_generations'))} in the truth file). Spearman uses average ranks "
            "for ties."
        ),
        truth_histogram_html(truth.hist2d, config),
        "<h3>By label class</h3>",
        html_table(
            truth.by_label.to_dicts(),
            [
                Column("label", "label", text=True),
                Column("generations", "generations"),
                Column("mean_quality", "mean quality_score"),
                Column("mean_true_quality", "mean true_quality"),
                Column("sd_true_quality", "sd true_quality"),
            ],
        ),
        "<h3>By model_version</h3>",
        html_table(
            truth.by_model_version.to_dicts(),
            [
                Column("model_version", "model_version", text=True),
                Column("generations", "generations"),
                Column("mean_quality", "mean quality_score"),
                Column("mean_true_quality", "mean true_quality"),
                Column("se_true_quality", "se true_quality"),
            ],
        ),
        "</section>",
    ]
    return "".join(parts)


def truth_histogram_html(grid: np.ndarray, config: RenderConfig) -> str:
    """The 2D histogram (truth_bin x quality_bin counts) as a log-colored PNG image."""
    if grid.sum() == 0:
        return empty("No labeled generation has a true quality.")
    with plot_style():
        side = config.figure_height_in * 1.4
        fig, ax = sized_figure(side * 1.25, side)
        masked = np.ma.masked_equal(grid, 0)
        image = ax.imshow(
            masked,
            origin="lower",
            extent=(0, 1, 0, 1),
            aspect="auto",
            cmap="viridis",
            norm=LogNorm(vmin=1, vmax=max(int(grid.max()), 2)),
        )
        ax.plot([0, 1], [0, 1], color="#fff", linestyle=":", linewidth=1)
        ax.set_xlabel("quality_score (labels)")
        ax.set_ylabel("true_quality (simulator)")
        ax.grid(False)
        bar = fig.colorbar(image, ax=ax, label="generations (log)")
        plain_log_axis(bar.ax.yaxis)
        return png_figure(fig, "2D histogram of quality_score against true_quality", config.png_dpi)
