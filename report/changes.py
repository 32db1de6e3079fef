"""Report section "What changed": this report's key figures (labels, model, export, quarantine,
diagnostics) beside those the previous report run showed, and a one-line verdict.

`run_figures` picks the figures from the report's data (they are recorded in `report_runs` after the page
is written); `compare_figures` lines them up with the previous run's; `verdict` says in one line whether
things got better, worse, both, or did not change. Pure: no database, no clock.
"""

from __future__ import annotations

import json
from typing import Any

import polars as pl

from report.data import ReportData
from report.markup import Column, empty, esc, fmt, html_table, note

HIGHER, LOWER = "higher", "lower"
EXPORT_DATASETS: tuple[str, ...] = ("dpo", "kto", "reward", "prompts")
MOVE_TOLERANCE: float = 1e-9
VERDICT_CHANGES: int = 4


def figure(group: str, name: str, value: Any, better: str | None = None) -> dict[str, Any]:
    """One figure: its group, name, value (number or text) and which direction is better, if any."""
    return {"group": group, "figure": name, "value": value, "better": better}


def label_figures(data: ReportData) -> list[dict[str, Any]]:
    """Labels: version, how many, how certain, their mean, the pairs built from them."""
    o, quality = data.overview, data.version_quality
    labeled = int(quality["generations"].sum()) if not quality.is_empty() else 0

    def share(column: str) -> float | None:
        return float(quality[column].sum()) / labeled if labeled else None

    mean = (
        float((quality["mean_quality"] * quality["generations"]).sum()) / labeled
        if labeled
        else None
    )
    return [
        figure("labels", "label_version", o.get("label_version")),
        figure("labels", "labeled generations", labeled, HIGHER),
        figure("labels", "good share", share("good")),
        figure("labels", "uncertain share", share("uncertain"), LOWER),
        figure("labels", "mean quality_score", mean),
        figure("labels", "preference pairs", o.get("preference_pairs"), HIGHER),
    ]


def model_figures(data: ReportData) -> list[dict[str, Any]]:
    """Model: the champion, its held-out pair accuracy and calibration error, models trained."""
    champions = data.registry.filter(pl.col("is_champion")).sort("created_at", descending=True)
    metrics = data.champion_metrics or {}
    own = metrics.get("evaluation") if isinstance(metrics.get("evaluation"), dict) else metrics
    return [
        figure("model", "champion", champions["model_id"][0] if champions.height else None),
        figure("model", "champion pair accuracy", own.get("pair_accuracy"), HIGHER),
        figure("model", "champion calibration error (ECE)", own.get("ece"), LOWER),
        figure("model", "models trained", data.overview.get("models")),
    ]


def latest_export(exports: pl.DataFrame) -> dict[str, Any] | None:
    """The newest recorded export with its JSON columns parsed, or None."""
    if exports.is_empty():
        return None
    row = exports.row(0, named=True)
    for column in ("counts", "exclusions", "pair_merging"):
        value = row.get(column)
        row[column] = json.loads(value) if isinstance(value, str) else (value or {})
    return row


def export_figures(data: ReportData) -> list[dict[str, Any]]:
    """Export: the newest export, its rows per dataset, rows excluded, DPO evidence folded."""
    latest = latest_export(data.exports)
    counts = latest["counts"] if latest else {}
    excluded = latest["exclusions"] if latest else {}
    merging = latest["pair_merging"] if latest else {}
    rows = [figure("export", "latest export", latest["export_id"] if latest else None)]
    rows += [
        figure(
            "export",
            f"{dataset} rows",
            sum(counts[dataset].values()) if dataset in counts else None,
        )
        for dataset in EXPORT_DATASETS
    ]
    rows.append(
        figure(
            "export",
            "rows excluded",
            sum(sum(r.values()) for r in excluded.values()) if latest else None,
        )
    )
    rows.append(figure("export", "DPO evidence rows folded", merging.get("evidence_rows_folded")))
    return rows


def quarantine_figures(data: ReportData) -> list[dict[str, Any]]:
    """Quarantine: rows quarantined, and their share of the rows read."""
    files = data.ingest_files
    read = int(files["rows_read"].sum()) if not files.is_empty() else 0
    quarantined = int(files["rows_quarantined"].sum()) if not files.is_empty() else 0
    return [
        figure("quarantine", "rows read", read),
        figure("quarantine", "rows quarantined", quarantined),
        figure("quarantine", "quarantined share", quarantined / read if read else None, LOWER),
    ]


def diagnostic_figures(data: ReportData) -> list[dict[str, Any]]:
    """Diagnostics: the volume of data and what the label stage and ingest flagged."""
    o = data.overview
    viewers = data.abnormal_viewers
    return [
        figure("diagnostics", "events", o.get("events")),
        figure("diagnostics", "generations", o.get("generations")),
        figure(
            "diagnostics",
            "abnormal viewers removed",
            int(viewers["viewers"].sum()) if not viewers.is_empty() else 0,
        ),
        figure("diagnostics", "late events", data.late_events),
    ]


def run_figures(data: ReportData) -> list[dict[str, Any]]:
    """The figures this report shows, in display order (JSON-ready)."""
    return [
        *label_figures(data),
        *model_figures(data),
        *export_figures(data),
        *quarantine_figures(data),
        *diagnostic_figures(data),
    ]


def moved(before: Any, after: Any) -> bool:
    """True when a figure changed (numbers beyond a rounding tolerance, anything else by equality)."""
    if isinstance(before, int | float) and isinstance(after, int | float):
        return abs(float(after) - float(before)) > MOVE_TOLERANCE * max(1.0, abs(float(before)))
    return before != after


def direction(row: dict[str, Any]) -> str | None:
    """ "better" / "worse" for a numeric figure with a preferred direction that moved, else None."""
    before, after, better = row["previous"], row["value"], row["better"]
    numeric = isinstance(before, int | float) and isinstance(after, int | float)
    if better is None or not numeric or not row["changed"]:
        return None
    return "better" if (after > before) == (better == HIGHER) else "worse"


def compare_figures(
    current: list[dict[str, Any]], previous: list[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    """Each current figure with the previous run's value, whether it changed and which way."""
    before = {(f["group"], f["figure"]): f["value"] for f in previous or []}
    rows = []
    for f in current:
        key = (f["group"], f["figure"])
        row = {
            **f,
            "previous": before.get(key),
            "changed": previous is not None and moved(before.get(key), f["value"]),
        }
        row["direction"] = direction(row)
        rows.append(row)
    return rows


def change_text(row: dict[str, Any]) -> str:
    """`figure a → b` (with the difference for counts)."""
    before, after = row["previous"], row["value"]
    text = f"{row['figure']} {fmt(before)} → {fmt(after)}"
    if isinstance(before, int) and isinstance(after, int) and not isinstance(before, bool):
        text += f" ({after - before:+,})"
    return text


def verdict(rows: list[dict[str, Any]], previous_at: str | None) -> str:
    """One line: better / worse / mixed / changed / no change since the previous report, and the main
    changes (those with a better direction first)."""
    if previous_at is None:
        return "First report of this warehouse: nothing to compare yet; the next report will say what changed."
    changed = [r for r in rows if r["changed"]]
    if not changed:
        return f"No change since the previous report ({previous_at})."
    directions = {r["direction"] for r in changed} - {None}
    word = {
        frozenset({"better"}): "Better",
        frozenset({"worse"}): "Worse",
        frozenset({"better", "worse"}): "Mixed",
    }.get(frozenset(directions), "Changed")
    ranked = sorted(changed, key=lambda r: r["direction"] is None)[:VERDICT_CHANGES]
    return (
        f"{word} since the previous report ({previous_at}): "
        + "; ".join(change_text(r) for r in ranked)
        + "."
    )


def section_changes(data: ReportData) -> str:
    """The comparison with the previous report run and its one-line verdict."""
    previous = data.previous_run
    previous_at = fmt(previous.run_at) if previous else None
    rows = compare_figures(data.figures, previous.figures.get("figures") if previous else None)
    parts = [
        '<section id="changes"><h2>What changed</h2>',
        f'<p class="verdict"><b>{esc(verdict(rows, previous_at))}</b></p>',
    ]
    if previous is None:
        parts.append(empty("No earlier report run is recorded for this warehouse."))
    else:
        parts.append(
            note(
                f"This report beside the previous report run ({previous_at}). Better / worse is shown "
                "where a direction is clear (e.g. pair accuracy up, quarantined share down); "
                "label-based figures are engagement estimates, not ground truth."
            )
        )
        parts.append(
            html_table(
                rows,
                [
                    Column("group", "group", text=True),
                    Column("figure", "figure", text=True),
                    Column("previous", "previous"),
                    Column("value", "now"),
                    Column(
                        "direction",
                        "",
                        lambda v: {"better": "better", "worse": "worse"}.get(v, ""),
                        text=True,
                    ),
                ],
                row_class=lambda r: (
                    "sig"
                    if r["direction"] == "better"
                    else "worse"
                    if r["direction"] == "worse"
                    else ""
                ),
            )
        )
    parts.append("</section>")
    return "".join(parts)
