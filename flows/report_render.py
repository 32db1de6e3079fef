"""Render `ReportData` as one self-contained HTML page: inline SVG / base64 PNG plots and small tables.

Pure: no database, no file I/O. Every value that reaches the page goes through `esc` (html-escaped), and
plot labels are drawn with mathtext off so a `$` in a model version is text, not a formula.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

if TYPE_CHECKING:
    from warehouse.report_data import ReportData, TruthData


@dataclass(frozen=True)
class RenderConfig:
    """Sizes and lengths of what is drawn."""

    figure_width_in: float = 8.0
    figure_height_in: float = 3.3
    png_dpi: int = 100
    registry_rows: int = 15
    history_rows: int = 20
    quarantine_reasons_rows: int = 20
    lateness_max_days: int = 14


RC_PARAMS: dict[str, Any] = {
    "svg.fonttype": "none",
    "text.parse_math": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "font.size": 9,
}

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:1.6em;margin:0 0 4px}h2{margin-top:0;font-size:1.25em;border-bottom:1px solid #dde;padding-bottom:6px}
h3{font-size:1.0em;margin:18px 0 6px}
section{background:#fff;border:1px solid #e2e5ea;border-radius:8px;padding:18px 22px;margin:18px 0}
.meta{color:#5b6476;font-size:.9em}.note{color:#5b6476;font-size:.88em;max-width:900px}
table{border-collapse:collapse;font-size:.85em;margin:8px 0}
th,td{border-bottom:1px solid #e7e9ee;padding:4px 10px;text-align:right;white-space:nowrap}
th{background:#f0f2f5;font-weight:600}td.t,th.t{text-align:left}td.t{white-space:normal;max-width:420px;overflow-wrap:anywhere}
.scroll{overflow-x:auto;max-width:100%}
tr.sig td{background:#eef7ee}
figure{margin:10px 0}figure svg,figure img{max-width:100%;height:auto}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{background:#f0f2f5;border-radius:6px;padding:8px 14px;min-width:120px}
.card b{display:block;font-size:1.2em}
.empty{color:#8a5a00;background:#fff8e6;border:1px solid #f3dfaa;border-radius:6px;padding:8px 12px}
"""


# ---------------------------------------------------------------------------- formatting


def esc(value: object) -> str:
    """HTML-escaped text of a value (quotes too: safe in attributes)."""
    return html.escape(str(value), quote=True)


def fmt(value: object, digits: int = 3) -> str:
    """Display text: thousands separators for ints, `digits` decimals for floats, an en dash for none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        return f"{value:,.{digits}f}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def pct(value: object, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{100 * float(value):.{digits}f}%"


def p_value(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return "< 0.0001" if float(value) < 1e-4 else f"{float(value):.4f}"


def plot_text(value: object) -> str:
    """A label for matplotlib (mathtext is off; matplotlib escapes XML in SVG text)."""
    return fmt(value)


@dataclass(frozen=True)
class Column:
    """One table column: the frame column, its header, how a value is shown, text (left) or number."""

    key: str
    header: str
    show: Callable[[Any], str] = fmt
    text: bool = False


def html_table(
    rows: Iterable[dict[str, Any]],
    columns: Sequence[Column],
    row_class: Callable[[dict[str, Any]], str] | None = None,
) -> str:
    """An escaped HTML table of `rows` (dicts) restricted to `columns`."""
    head = "".join(f'<th class="{"t" if c.text else ""}">{esc(c.header)}</th>' for c in columns)
    body = []
    for row in rows:
        cls = row_class(row) if row_class else ""
        cells = "".join(
            f'<td class="{"t" if c.text else ""}">{esc(c.show(row.get(c.key)))}</td>'
            for c in columns
        )
        body.append(f'<tr class="{esc(cls)}">{cells}</tr>')
    if not body:
        return '<p class="empty">No rows.</p>'
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def empty(message: str) -> str:
    return f'<p class="empty">{esc(message)}</p>'


def note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


def cards(items: Sequence[tuple[str, str]]) -> str:
    inner = "".join(f'<div class="card"><b>{esc(v)}</b>{esc(k)}</div>' for k, v in items)
    return f'<div class="cards">{inner}</div>'


# ---------------------------------------------------------------------------- figures


def new_figure(config: RenderConfig, height_scale: float = 1.0) -> tuple[Figure, Any]:
    """A figure of the configured width and `height_scale` times the configured height."""
    fig, ax = plt.subplots(
        figsize=(config.figure_width_in, config.figure_height_in * height_scale),
        layout="constrained",
    )
    return fig, ax


def row_chart_scale(config: RenderConfig, rows: int) -> float:
    """Height scale of a chart with one bar or dot per row (about a quarter inch per row)."""
    return max(0.6, (0.25 * rows + 0.7) / config.figure_height_in)


def svg_figure(fig: Figure, name: str, alt: str) -> str:
    """The figure as inline SVG; element ids are salted with `name` so several SVGs coexist on a page."""
    buffer = io.StringIO()
    with plt.rc_context({"svg.hashsalt": name}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    plt.close(fig)
    text = buffer.getvalue()
    svg = text[text.index("<svg") :]
    return f'<figure role="img" aria-label="{esc(alt)}">{svg}</figure>'


def png_figure(fig: Figure, alt: str, dpi: int) -> str:
    """The figure as a base64 PNG <img> (for raster content such as a 2D histogram)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<figure><img alt="{esc(alt)}" src="data:image/png;base64,{data}"></figure>'


def plain_log_axis(axis: Any) -> None:
    """Plain-number tick labels on a log axis (the default log labels are mathtext, which is off);
    call after plotting: ticks at 1-2-5 steps over a short range, at powers of ten over a long one."""
    low, high = axis.get_data_interval()
    decades = math.log10(high / low) if low > 0 and high > 0 else math.inf
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if decades <= 2.0 else (1.0,)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: compact_number(v)))
    axis.set_minor_formatter(NullFormatter())


def compact_number(value: float) -> str:
    """1,500 -> "1.5k", 2,000,000 -> "2M", 0.25 -> "0.25": short tick labels."""
    for threshold, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= threshold:
            return f"{value / threshold:g}{suffix}"
    return f"{value:.0f}" if value >= 1 else f"{value:.2g}"


def color_of(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


# ---------------------------------------------------------------------------- sections


def section_overview(data: ReportData) -> str:
    o = data.overview
    items = [
        ("events", fmt(o.get("events"))),
        ("generations", fmt(o.get("generations"))),
        ("requests", fmt(o.get("requests"))),
        ("model versions", fmt(o.get("model_versions"))),
        ("labeled generations", fmt(o.get("labeled_generations"))),
        ("preference pairs", fmt(o.get("preference_pairs"))),
        ("models trained", fmt(o.get("models"))),
        ("quarantined rows", fmt(o.get("quarantined_rows"))),
    ]
    span = f"events from {fmt(o.get('first_event_at'))} to {fmt(o.get('last_event_at'))}; label_version {fmt(o.get('label_version'))}"
    return f'<section id="overview"><h2>Overview</h2>{cards(items)}{note(span)}</section>'


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
    with plt.rc_context(RC_PARAMS):
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
        parts.append(
            svg_figure(fig, "versions", "mean quality by model version with confidence intervals")
        )
    parts.append(
        html_table(
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
    )
    parts.append("<h3>Pairwise differences</h3>")
    if data.version_pairs.is_empty():
        parts.append(
            empty(
                "Fewer than two versions with two or more labeled generations: nothing to compare."
            )
        )
    else:
        significant = int(data.version_pairs["significant"].sum())
        parts.append(
            note(
                f"{significant} of {data.version_pairs.height} pairs differ significantly (highlighted)."
            )
        )
        parts.append(
            html_table(
                data.version_pairs.to_dicts(),
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
        )
    parts.append("<h3>Over time (by UTC day of created_at)</h3>")
    parts.append(version_daily_figure(data.version_daily, config, level))
    parts.append("</section>")
    return "".join(parts)


def version_daily_figure(daily: pl.DataFrame, config: RenderConfig, level: str) -> str:
    if daily.is_empty():
        return empty("No labeled generations with a known creation day.")
    with plt.rc_context(RC_PARAMS):
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


def section_prompts(data: ReportData, config: RenderConfig) -> str:
    cfg = data.config
    level = f"{100 * cfg.confidence:g}%"
    parts = [
        '<section id="prompts"><h2>2. Prompt weaknesses</h2>',
        note(
            "Groups of generations with the lowest mean quality_score, each with at least "
            f"{cfg.ngram_min_generations} labeled generations, with {level} confidence intervals; the dashed "
            "line is the mean over all labeled generations. No category field comes with the generation "
            "records, so categories are derived from the prompt: its comma-separated clauses (where style "
            "modifiers and settings sit) and its word n-grams (lower-cased words of letters and digits); "
            "each counts once per prompt. Extra fields the app sends with generations are listed last."
        ),
    ]
    overall = data.version_quality
    overall_mean = (
        float(
            (overall["mean_quality"] * overall["generations"]).sum() / overall["generations"].sum()
        )
        if not overall.is_empty() and overall["generations"].sum() > 0
        else None
    )
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
        parts.append(group_quality_figure(frame, labels, overall_mean, level, name, title, config))
        parts.append(group_quality_table(frame, [Column(key, header, text=True)], level))
    parts.append("<h3>Extra fields of the generation records</h3>")
    attributes = data.attributes
    if attributes.is_empty():
        parts.append(empty("No categorical extra field with enough labeled generations per value."))
    else:
        labels = [
            f"{r['attribute']} = {r['value']}  (n={r['generations']:,})"
            for r in attributes.to_dicts()
        ]
        parts.append(
            group_quality_figure(
                attributes,
                labels,
                overall_mean,
                level,
                "prompts-attributes",
                "extra fields",
                config,
            )
        )
        parts.append(
            group_quality_table(
                attributes,
                [Column("attribute", "field", text=True), Column("value", "value", text=True)],
                level,
            )
        )
    parts.append("</section>")
    return "".join(parts)


def group_quality_figure(
    frame: pl.DataFrame,
    labels: list[str],
    overall_mean: float | None,
    level: str,
    name: str,
    title: str,
    config: RenderConfig,
) -> str:
    """Dots with confidence intervals, one row per group, and the overall mean as a dashed line."""
    rows = frame.to_dicts()
    with plt.rc_context(RC_PARAMS):
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
        ax.set_xlabel(f"mean quality_score ({level} CI)")
        return svg_figure(fig, name, f"lowest-quality {title}")


def group_quality_table(frame: pl.DataFrame, keys: list[Column], level: str) -> str:
    return html_table(
        frame.to_dicts(),
        keys
        + [
            Column("generations", "generations"),
            Column("mean_quality", "mean quality"),
            Column("ci_low", f"{level} CI low"),
            Column("ci_high", f"{level} CI high"),
        ],
    )


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
    names = dict(FUNNEL_STAGES)
    rows = total.to_dicts()
    with plt.rc_context(RC_PARAMS):
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
        parts.append(svg_figure(fig, "funnel", "engagement funnel"))
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
    parts.append(
        html_table(
            data.position_bias.to_dicts(),
            [
                Column("position", "slot"),
                Column(
                    "impressions", "impressions", lambda v: fmt(int(v)) if v is not None else "–"
                ),
                Column("raw_view_rate", "raw view rate", pct),
                Column("clean_view_rate", "clean view rate", pct),
                Column("corrected_view_rate", "corrected view rate", pct),
                Column("raw_vs_top", "raw vs slot 0", lambda v: fmt(v, 2)),
                Column("corrected_vs_top", "corrected vs slot 0", lambda v: fmt(v, 2)),
            ],
        )
        if not data.position_bias.is_empty()
        else ""
    )
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
    duration = data.duration_bias
    if duration.is_empty():
        parts.append(empty("No views of generations with a known duration."))
    else:
        mid = ((duration["duration_from_s"] + duration["duration_to_s"] + 1) / 2).to_list()
        with plt.rc_context(RC_PARAMS):
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
            parts.append(svg_figure(fig, "duration-bias", "completion by duration"))
        parts.append(
            html_table(
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
        )
    parts.append("</section>")
    return "".join(parts)


def position_figure(position: pl.DataFrame, max_position: int, config: RenderConfig) -> str:
    if position.is_empty():
        return empty("No feed impressions with a position.")
    series = (
        ("raw_vs_top", "before: raw (bots in)", color_of(1), "o", "-"),
        ("clean_vs_top", "clean (bots removed)", color_of(4), ".", "--"),
        ("corrected_vs_top", "after: position-corrected", color_of(2), "s", "-"),
    )
    with plt.rc_context(RC_PARAMS):
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


def section_health(data: ReportData, config: RenderConfig) -> str:
    files = data.ingest_files
    totals = {
        c: int(files[c].sum()) if not files.is_empty() else 0
        for c in ("files", "rows_read", "rows_loaded", "rows_duplicate", "rows_quarantined")
    }
    late_days = data.config.late_after_days
    if not data.overview.get("label_runs"):
        bots = "not recorded"
    else:
        bots = fmt(
            int(data.abnormal_viewers["viewers"].sum())
            if not data.abnormal_viewers.is_empty()
            else 0
        )
    items = [
        ("files ingested", fmt(totals["files"])),
        ("rows read", fmt(totals["rows_read"])),
        ("rows loaded", fmt(totals["rows_loaded"])),
        ("duplicates dropped", fmt(totals["rows_duplicate"])),
        ("rows quarantined", fmt(totals["rows_quarantined"])),
        ("late events", fmt(data.late_events)),
        ("bot / abnormal viewers removed", bots),
    ]
    parts = [
        '<section id="health"><h2>5. Data health</h2>',
        cards(items),
        note(
            "Every row read is loaded, dropped as a duplicate delivery (repeated event_id / generation_id) or "
            "quarantined with a reason. A landing file is one delivery batch; its delivery day is the UTC "
            "day on which most of its events occurred. An event is late when it occurred "
            f"{late_days} or more day(s) before its batch's delivery day (it came in a later day's batch)."
        ),
        "<h3>Files</h3>",
        html_table(
            files.to_dicts(),
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
    ]
    reasons = data.quarantine_reasons.head(config.quarantine_reasons_rows)
    if reasons.is_empty():
        parts.append(empty("No quarantined rows."))
    else:
        rows = reasons.to_dicts()
        with plt.rc_context(RC_PARAMS):
            fig, ax = new_figure(config, height_scale=row_chart_scale(config, len(rows)))
            y = np.arange(len(rows))
            ax.barh(y, [r["rows_quarantined"] for r in rows], color=color_of(4))
            ax.set_yticks(y, [f"{r['kind']}: {r['reason_code']}" for r in rows])
            ax.invert_yaxis()
            ax.set_xlabel("rows quarantined")
            parts.append(svg_figure(fig, "quarantine", "quarantined rows by reason"))
        parts.append(
            html_table(
                rows,
                [
                    Column("kind", "kind", text=True),
                    Column("reason_code", "reason", text=True),
                    Column("rows_quarantined", "rows"),
                    Column("files", "files"),
                ],
            )
        )
    parts.append("<h3>Viewers removed by the label stage</h3>")
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
    lateness = data.lateness
    if lateness.is_empty():
        parts.append(empty("No events."))
    else:
        cap = config.lateness_max_days
        pooled = (
            lateness.with_columns(lag_days=pl.min_horizontal("lag_days", pl.lit(cap)))
            .group_by("lag_days")
            .agg(pl.col("events").sum())
            .sort("lag_days")
        )
        with plt.rc_context(RC_PARAMS):
            fig, ax = new_figure(config, height_scale=0.8)
            colors = [color_of(1) if d >= late_days else color_of(0) for d in pooled["lag_days"]]
            ax.bar(pooled["lag_days"].to_list(), pooled["events"].to_list(), color=colors)
            ax.set_yscale("log")
            plain_log_axis(ax.yaxis)
            ax.set_xlabel(
                f"delivery day − occurred day, in days ({cap} = {cap} or more; red = late)"
            )
            ax.set_ylabel("events (log)")
            parts.append(svg_figure(fig, "lateness", "event lateness"))
    parts.append("</section>")
    return "".join(parts)


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
        champion = (
            data.registry.filter(pl.col("is_champion"))
            .sort("created_at", descending=True)
            .row(0, named=True)
        )
        parts.append(
            note(
                f"Champion {champion['model_id']} ({champion['model_kind']}), label_version "
                f"{champion['label_version']}, evaluated on held-out requests from {fmt(champion['test_start'])} "
                f"to {fmt(champion['test_end'])} beside the baselines any model must beat (as recorded in its "
                "model_registry.metrics at training time). Accuracy = share of held-out pairs ordered "
                "correctly; 0.5 is a coin flip."
            )
        )
        scorer_rows = scorer_metric_rows(metrics)
        if scorer_rows:
            parts.append(accuracy_figure(scorer_rows, config))
            names = [m for m in MODEL_METRICS if any(m in r for r in scorer_rows)]
            names += sorted({k for r in scorer_rows for k in r if k not in names and k != "scorer"})
            parts.append(
                html_table(
                    scorer_rows,
                    [Column("scorer", "scorer", text=True)]
                    + [Column(m, m, lambda v: fmt(v, 4)) for m in names],
                    row_class=lambda r: "sig" if r["scorer"] == "champion" else "",
                )
            )
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
        bins = reliability_rows(metrics)
        parts.append("<h3>Calibration</h3>")
        if bins:
            parts.append(calibration_figure(bins, config))
        else:
            own = own_metrics(metrics)
            parts.append(
                empty(
                    "No reliability plot: the champion's metrics hold no reliability bins (only summary "
                    f"calibration: Brier {fmt(own.get('brier'), 4)}, ECE {fmt(own.get('ece'), 4)})."
                )
            )
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
    with plt.rc_context(RC_PARAMS):
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
    with plt.rc_context(RC_PARAMS):
        fig, ax = plt.subplots(
            figsize=(config.figure_height_in * 1.3, config.figure_height_in * 1.2),
            layout="constrained",
        )
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
    ]
    grid = truth.hist2d
    if grid.sum() == 0:
        parts.append(empty("No labeled generation has a true quality."))
    else:
        with plt.rc_context(RC_PARAMS):
            side = config.figure_height_in * 1.4
            fig, ax = plt.subplots(figsize=(side * 1.25, side), layout="constrained")
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
            parts.append(
                png_figure(
                    fig, "2D histogram of quality_score against true_quality", config.png_dpi
                )
            )
    parts.append("<h3>By label class</h3>")
    parts.append(
        html_table(
            truth.by_label.to_dicts(),
            [
                Column("label", "label", text=True),
                Column("generations", "generations"),
                Column("mean_quality", "mean quality_score"),
                Column("mean_true_quality", "mean true_quality"),
                Column("sd_true_quality", "sd true_quality"),
            ],
        )
    )
    parts.append("<h3>By model_version</h3>")
    parts.append(
        html_table(
            truth.by_model_version.to_dicts(),
            [
                Column("model_version", "model_version", text=True),
                Column("generations", "generations"),
                Column("mean_quality", "mean quality_score"),
                Column("mean_true_quality", "mean true_quality"),
                Column("se_true_quality", "se true_quality"),
            ],
        )
    )
    parts.append("</section>")
    return "".join(parts)


def render_report(
    data: ReportData,
    *,
    generated_at: datetime,
    source: str,
    config: RenderConfig = RenderConfig(),
) -> str:
    """The whole report as one HTML document (no external resources, no script)."""
    sections = [
        section_overview(data),
        section_versions(data, config),
        section_prompts(data, config),
        section_funnel(data, config),
        section_biases(data, config),
        section_health(data, config),
        section_model(data, config),
        section_truth(data.truth, data, config),
    ]
    title = "reelloop report"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body><main>"
        f"<h1>{esc(title)}</h1>"
        f'<p class="meta">warehouse {esc(source)} · generated {esc(fmt(generated_at))}</p>'
        + "".join(sections)
        + "</main></body></html>\n"
    )
