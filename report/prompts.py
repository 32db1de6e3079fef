"""Report section "2. Prompt weaknesses": the groups of generations (prompt clauses, word n-grams, extra
fields of the generation records) with the lowest mean quality, each with its confidence interval.
Clauses and n-grams are ranked by quality relative to the model version that served each generation,
without filler words, and a 1-gram or 2-gram that shares a word with a weaker one is not repeated."""

from __future__ import annotations

import numpy as np
import polars as pl

from report.config import RenderConfig
from report.data import ReportData
from report.figures import color_of, new_figure, plot_style, row_chart_scale, svg_figure
from report.markup import Column, empty, esc, html_table, note


def section_prompts(data: ReportData, config: RenderConfig) -> str:
    cfg = data.config
    level = f"{100 * cfg.confidence:g}%"
    parts = [
        '<section id="prompts"><h2>2. Prompt weaknesses</h2>',
        note(
            "Groups of generations, each with at least "
            f"{cfg.ngram_min_generations} labeled generations, whose quality_score falls furthest below "
            "the mean of the model version that served each of them (so a group is not blamed for a "
            f"weak version), with {level} confidence intervals of that shortfall; the dashed line is "
            "par for the version. No category field comes with the generation records, so categories "
            "are derived from the prompt: its comma-separated clauses (where style modifiers and "
            "settings sit) and its word n-grams (lower-cased words of letters and digits), each counted "
            "once per prompt. N-grams leave out filler: stop words, fragments shorter than "
            f"{cfg.ngram_min_word_chars} characters and bare numbers; a 1-gram or 2-gram sharing a word "
            "with a weaker one already listed is not repeated. Label-based: engagement labels, not "
            "ground truth. Extra fields the app sends with generations are listed last (raw means)."
        ),
    ]
    overall_mean = overall_mean_quality(data.version_quality)
    groups = (
        ("Prompt clauses", data.weakest_clauses, "clause", "clause", "prompts-clauses"),
        ("Words (1-grams)", data.weakest_unigrams, "ngram", "n-gram", "prompts-ngrams-1"),
        ("Word pairs (2-grams)", data.weakest_bigrams, "ngram", "n-gram", "prompts-ngrams-2"),
    )
    for title, frame, key, header, name in groups:
        parts.append(f"<h3>{esc(title)}</h3>")
        if frame.is_empty():
            parts.append(
                empty(f"None appears in {cfg.ngram_min_generations} or more labeled generations.")
            )
            continue
        labels = [f"{r[key]}  (n={r['generations']:,})" for r in frame.to_dicts()]
        parts.append(adjusted_quality_figure(frame, labels, level, name, title, config))
        parts.append(
            group_quality_table(frame, [Column(key, header, text=True)], level, adjusted=True)
        )
    parts.append("<h3>Extra fields of the generation records</h3>")
    parts.append(attributes_html(data.attributes, overall_mean, level, config))
    parts.append("</section>")
    return "".join(parts)


def overall_mean_quality(overall: pl.DataFrame) -> float | None:
    """The mean quality_score over all labeled generations (the versions' means weighted by size)."""
    return (
        float(
            (overall["mean_quality"] * overall["generations"]).sum() / overall["generations"].sum()
        )
        if not overall.is_empty() and overall["generations"].sum() > 0
        else None
    )


def attributes_html(
    attributes: pl.DataFrame, overall_mean: float | None, level: str, config: RenderConfig
) -> str:
    """Quality per value of the categorical extra fields: figure and table."""
    if attributes.is_empty():
        return empty("No categorical extra field with enough labeled generations per value.")
    labels = [
        f"{r['attribute']} = {r['value']}  (n={r['generations']:,})" for r in attributes.to_dicts()
    ]
    figure = group_quality_figure(
        attributes,
        labels,
        overall_mean,
        level,
        "prompts-attributes",
        "extra fields",
        config,
    )
    return figure + group_quality_table(
        attributes,
        [Column("attribute", "field", text=True), Column("value", "value", text=True)],
        level,
    )


def group_quality_figure(
    frame: pl.DataFrame,
    labels: list[str],
    overall_mean: float | None,
    level: str,
    name: str,
    title: str,
    config: RenderConfig,
    axis: str = "mean quality_score",
) -> str:
    """Dots with confidence intervals, one row per group, and the reference as a dashed line."""
    rows = frame.to_dicts()
    with plot_style():
        fig, ax = new_figure(config, height_scale=row_chart_scale(config, len(rows)))
        y = np.arange(len(rows))
        means = np.array([r["mean_quality"] for r in rows], dtype=float)
        half = np.array(
            [r["ci_high"] - r["mean_quality"] if r["ci_high"] is not None else 0.0 for r in rows]
        )
        ax.errorbar(means, y, xerr=half, fmt="o", color=color_of(1), capsize=3)
        ax.set_yticks(y, labels)
        ax.invert_yaxis()
        if overall_mean is not None:
            ax.axvline(overall_mean, color="#333", linestyle="--", linewidth=1)
        ax.set_xlabel(f"{axis} ({level} CI)")
        return svg_figure(fig, name, f"lowest-quality {title}")


def adjusted_quality_figure(
    frame: pl.DataFrame, labels: list[str], level: str, name: str, title: str, config: RenderConfig
) -> str:
    """Quality relative to the serving version's mean, with confidence intervals; 0 = par."""
    renamed = frame.select(
        pl.col("mean_adjusted").alias("mean_quality"), pl.col("adjusted_ci_high").alias("ci_high")
    )
    return group_quality_figure(
        renamed, labels, 0.0, level, name, title, config, "quality_score − its version's mean"
    )


def group_quality_table(
    frame: pl.DataFrame, keys: list[Column], level: str, adjusted: bool = False
) -> str:
    """The groups' sizes and mean quality with the confidence interval of the raw mean, or, when
    `adjusted`, the quality relative to the serving version's mean and its interval."""
    interval = ("adjusted_ci_low", "adjusted_ci_high") if adjusted else ("ci_low", "ci_high")
    relative = [Column("mean_adjusted", "vs version mean")] if adjusted else []
    return html_table(
        frame.to_dicts(),
        keys
        + [Column("generations", "generations"), Column("mean_quality", "mean quality")]
        + relative
        + [Column(interval[0], f"{level} CI low"), Column(interval[1], f"{level} CI high")],
    )
