"""Report section "6. Preference model": the champion's held-out metrics beside the baselines, its
calibration, the champion history and the registered models."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from report.config import RenderConfig
from report.data import ReportData
from report.figures import (
    color_of,
    new_figure,
    plot_style,
    plot_text,
    row_chart_scale,
    sized_figure,
    svg_figure,
)
from report.markup import Column, empty, esc, fmt, html_table, note

MODEL_METRICS: tuple[str, ...] = (
    "pair_accuracy",
    "sibling_label_accuracy",
    "truth_sibling_accuracy",
    "spearman_label",
    "brier",
    "ece",
)


def section_model(data: ReportData, config: RenderConfig) -> str:
    parts = ['<section id="model"><h2>6. Preference model</h2>']
    metrics = data.champion_metrics
    if metrics is None:
        parts.append(empty("No champion model yet: run `reelloop train`."))
    else:
        parts.append(champion_html(data.registry, metrics, config))
    parts.append("<h3>Champion history</h3>")
    parts.append(
        html_table(
            data.champion_history.head(config.history_rows).to_dicts(),
            [
                Column("decided_at", "decided at", text=True),
                Column("model_id", "model", text=True),
                Column("promoted", "promoted"),
                Column("previous_champion_id", "previous champion", text=True),
                Column("challenger_metric", "challenger", lambda v: fmt(v, 4)),
                Column("champion_metric", "champion", lambda v: fmt(v, 4)),
                Column("reason", "reason", text=True),
            ],
        )
    )
    parts.append("<h3>Registered models</h3>")
    parts.append(
        html_table(
            data.registry.head(config.registry_rows).to_dicts(),
            [
                Column("model_id", "model", text=True),
                Column("created_at", "created", text=True),
                Column("model_kind", "kind", text=True),
                Column("label_version", "label_version", text=True),
                Column("is_champion", "champion"),
            ],
        )
    )
    parts.append("</section>")
    return "".join(parts)


def champion_html(registry: pl.DataFrame, metrics: dict[str, Any], config: RenderConfig) -> str:
    """The champion against the baselines, its evaluation window and promotion, its calibration."""
    champion = (
        registry.filter(pl.col("is_champion"))
        .sort("created_at", descending=True)
        .row(0, named=True)
    )
    parts = [
        note(
            f"Champion {champion['model_id']} ({champion['model_kind']}), label_version "
            f"{champion['label_version']}, evaluated on held-out requests from {fmt(champion['test_start'])} "
            f"to {fmt(champion['test_end'])} beside the baselines any model must beat (as recorded in its "
            "model_registry.metrics at training time). Accuracy = share of held-out pairs ordered "
            "correctly; 0.5 is a coin flip."
        )
    ]
    scorer_rows = scorer_metric_rows(metrics)
    if scorer_rows:
        parts.append(accuracy_figure(scorer_rows, config))
        parts.append(scorer_table(scorer_rows))
    else:
        parts.append(empty("The champion's metrics hold no per-scorer figures."))
    for key, title in (("counts", "Evaluation window"), ("promotion", "Promotion decision")):
        block = metrics.get(key)
        if isinstance(block, dict) and block:
            parts.append(f"<h3>{esc(title)}</h3>")
            parts.append(
                html_table(
                    [
                        {"name": k, "value": v}
                        for k, v in block.items()
                        if not isinstance(v, dict | list)
                    ],
                    [
                        Column("name", "name", text=True),
                        Column("value", "value", lambda v: fmt(v, 4), text=True),
                    ],
                )
            )
    parts.append("<h3>Calibration</h3>")
    parts.append(calibration_html(metrics, config))
    return "".join(parts)


def scorer_table(scorer_rows: list[dict[str, Any]]) -> str:
    """Every scorer's metrics: the known ones first, then any other the metrics JSON holds."""
    names = [m for m in MODEL_METRICS if any(m in r for r in scorer_rows)]
    names += sorted({k for r in scorer_rows for k in r if k not in names and k != "scorer"})
    return html_table(
        scorer_rows,
        [Column("scorer", "scorer", text=True)]
        + [Column(m, m, lambda v: fmt(v, 4)) for m in names],
        row_class=lambda r: "sig" if r["scorer"] == "champion" else "",
    )


def calibration_html(metrics: dict[str, Any], config: RenderConfig) -> str:
    """The reliability plot, or a note with the summary calibration when there are no bins."""
    bins = reliability_rows(metrics)
    if bins:
        return calibration_figure(bins, config)
    own = own_metrics(metrics)
    return empty(
        "No reliability plot: the champion's metrics hold no reliability bins (only summary "
        f"calibration: Brier {fmt(own.get('brier'), 4)}, ECE {fmt(own.get('ece'), 4)})."
    )


def own_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """The model's own held-out numbers: `metrics["evaluation"]`, else the top-level numbers."""
    block = metrics.get("evaluation")
    source = block if isinstance(block, dict) else metrics
    return {k: v for k, v in source.items() if is_number(v) or (v is None and k in MODEL_METRICS)}


def scorer_metric_rows(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per scorer: the champion's own metrics, then each entry of `metrics["baselines"]`."""
    rows: list[dict[str, Any]] = []
    own = own_metrics(metrics)
    if own:
        rows.append({"scorer": "champion", **own})
    baselines = metrics.get("baselines")
    if isinstance(baselines, dict):
        for name, inner in baselines.items():
            if isinstance(inner, dict):
                numbers = {k: v for k, v in inner.items() if is_number(v) or v is None}
                rows.append({"scorer": str(name), **numbers})
    return rows


def reliability_rows(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """The first list of bins with `mean_predicted` and `observed` found in the metrics JSON."""
    stack: list[Any] = [metrics]
    while stack:
        value = stack.pop(0)
        if (
            isinstance(value, list)
            and value
            and all(
                isinstance(b, dict) and "mean_predicted" in b and "observed" in b for b in value
            )
        ):
            return value
        if isinstance(value, dict):
            stack.extend(value.values())
    return []


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def accuracy_figure(rows: list[dict[str, Any]], config: RenderConfig) -> str:
    names = [k for k in MODEL_METRICS if "accuracy" in k and any(is_number(r.get(k)) for r in rows)]
    if not names:
        return ""
    with plot_style():
        fig, ax = new_figure(
            config, height_scale=row_chart_scale(config, len(rows) * len(names) * 0.6)
        )
        height = 0.8 / len(names)
        y = np.arange(len(rows))
        for i, name in enumerate(names):
            values = [r.get(name) if is_number(r.get(name)) else np.nan for r in rows]
            ax.barh(
                y + i * height - 0.4 + height / 2,
                values,
                height=height,
                color=color_of(i),
                label=name,
            )
        ax.axvline(0.5, color="#333", linestyle=":", linewidth=1)
        ax.set_yticks(y, [plot_text(r["scorer"]) for r in rows])
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.set_xlabel("held-out accuracy (0.5 = coin flip)")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8)
        return svg_figure(fig, "model-accuracy", "held-out accuracy of the champion and baselines")


def calibration_figure(bins: list[dict[str, Any]], config: RenderConfig) -> str:
    with plot_style():
        fig, ax = sized_figure(config.figure_height_in * 1.3, config.figure_height_in * 1.2)
        predicted = [float(b["mean_predicted"]) for b in bins]
        observed = [float(b["observed"]) for b in bins]
        sizes = [
            max(10.0, 200.0 * float(b.get("n", 1)) / max(float(x.get("n", 1)) for x in bins))
            for b in bins
        ]
        ax.plot([0, 1], [0, 1], color="#888", linestyle=":", linewidth=1)
        ax.plot(predicted, observed, color=color_of(0), linewidth=1)
        ax.scatter(predicted, observed, s=sizes, color=color_of(0), alpha=0.7)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("predicted P(wins)")
        ax.set_ylabel("observed win rate")
        return svg_figure(fig, "calibration", "calibration of the champion")
