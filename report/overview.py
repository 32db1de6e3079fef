"""Report section "Overview": the label's truth-free verdict first, then warehouse totals as cards and
the span of the events."""

from __future__ import annotations

import polars as pl

from report.data import ReportData
from report.markup import Column, cards, esc, fmt, html_table, note

CHECK_NAMES: dict[str, str] = {
    "split_half": "split-half reliability",
    "temporal": "temporal validity",
    "studio_agreement": "studio agreement",
}


def label_tile(diagnostics: pl.DataFrame) -> str:
    """The latest label run's diagnostics beside the best raw rate, with its verdict (a warning when a
    raw rate does better); empty before the first label run."""
    if diagnostics.is_empty() or "kind" not in diagnostics.columns:
        return ""
    labels = diagnostics.filter(pl.col("kind") == "label")
    if labels.is_empty():
        return ""
    label = labels.row(0, named=True)
    raws = diagnostics.filter(pl.col("kind") != "label")
    rows = []
    for check, name in CHECK_NAMES.items():
        best = raws.drop_nulls(check).sort(check, descending=True).head(1)
        rows.append(
            {
                "check": name,
                "label": label[check],
                "best_raw": best[check][0] if best.height else None,
                "which": best["score"][0] if best.height else None,
            }
        )
    columns = [
        Column("check", "check", text=True),
        Column("label", "label"),
        Column("best_raw", "best raw rate"),
        Column("which", "which", text=True),
    ]
    if label["warning"]:
        verdict = f'<p class="empty"><b>Warning:</b> {esc(label["warning"])}</p>'
    elif label["beats_best_raw"]:
        verdict = note("The label beats every raw rate on every check it could be computed on.")
    else:
        verdict = note("Not enough data for the checks yet.")
    return (
        f"<h3>Labels vs raw rates (no truth needed, label_version {esc(fmt(label['label_version']))})</h3>"
        + verdict
        + html_table(rows, columns)
        + note(
            "split-half: the score from one viewer half against the other; temporal: a generation's "
            "early engagement against its later; studio: share of studio choices ordered alike."
        )
    )


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
    tile = label_tile(data.label_diagnostics)
    return f'<section id="overview"><h2>Overview</h2>{tile}{cards(items)}{note(span)}</section>'
