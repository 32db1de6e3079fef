"""Report section "8. Exported datasets": the newest export's rows per dataset and split, its exclusions
by reason, how DPO evidence rows merged into one row per pair, and the exports before it."""

from __future__ import annotations

from typing import Any

from report.changes import latest_export
from report.config import RenderConfig
from report.data import ReportData
from report.markup import Column, cards, empty, fmt, html_table, note

MERGE_STEPS: tuple[tuple[str, str], ...] = (
    ("evidence_rows", "evidence rows read"),
    ("evidence_rows_excluded", "excluded row by row"),
    ("evidence_rows_merged", "merged"),
    ("merged_pairs", "unordered pairs"),
    ("evidence_rows_folded", "rows folded into another"),
    ("pairs_excluded", "pairs excluded"),
    ("exported_pairs", "DPO rows exported"),
)


def rows_per_dataset(counts: dict[str, dict[str, int]]) -> list[dict[str, Any]]:
    """One row per dataset: rows per split and in total."""
    return [
        {"dataset": dataset, **splits, "total": sum(splits.values())}
        for dataset, splits in counts.items()
    ]


def exclusion_rows(exclusions: dict[str, dict[str, int]]) -> list[dict[str, Any]]:
    """One row per dataset and reason with excluded rows, most first."""
    rows = [
        {"dataset": dataset, "reason": reason, "rows": n}
        for dataset, reasons in exclusions.items()
        for reason, n in reasons.items()
        if n
    ]
    return sorted(rows, key=lambda r: (r["dataset"], -r["rows"], r["reason"]))


def merging_html(merging: dict[str, Any]) -> str:
    """How DPO evidence rows became rows: the steps as cards, the exported rows by sources."""
    if not merging:
        return empty("This export predates the pair merging record.")
    steps = cards([(label, fmt(merging.get(key))) for key, label in MERGE_STEPS])
    by_sources = [
        {"sources": name, "rows": n}
        for name, n in (merging.get("exported_by_sources") or {}).items()
    ]
    extra = note(
        f"{fmt(merging.get('pairs_with_opposing_evidence'))} pairs had evidence pointing both ways; "
        f"{fmt(merging.get('exported_negative_margin'))} exported rows have a negative margin (a studio "
        f"vote over a higher label); {fmt(merging.get('exported_cross_model_version'))} compare two "
        "model versions."
    )
    table = html_table(
        by_sources, [Column("sources", "sources", text=True), Column("rows", "rows")]
    )
    return steps + extra + table


def section_exports(data: ReportData, config: RenderConfig) -> str:
    """The newest export in detail and the list of exports."""
    parts = ['<section id="exports"><h2>8. Exported datasets</h2>']
    latest = latest_export(data.exports)
    if latest is None:
        parts.append(empty("No export recorded yet: run `reelloop export --out DIR`."))
        parts.append("</section>")
        return "".join(parts)
    parts.append(
        note(
            f"Newest export {latest['export_id']} written {fmt(latest['created_at'])} to "
            f"{latest['path']} (label_version {latest['label_version']}, champion "
            f"{fmt(latest['champion_model_id'])}). Rows per dataset and split as its manifest "
            "records them; an excluded row is counted once, under the first reason that applies "
            "(DPO: evidence rows for the row-by-row reasons, merged pairs after the merge)."
        )
    )
    split_columns = sorted({s for splits in latest["counts"].values() for s in splits})
    parts.append("<h3>Rows</h3>")
    parts.append(
        html_table(
            rows_per_dataset(latest["counts"]),
            [Column("dataset", "dataset", text=True)]
            + [Column(split, split) for split in split_columns]
            + [Column("total", "total")],
        )
    )
    parts.append("<h3>Excluded rows by reason</h3>")
    parts.append(
        html_table(
            exclusion_rows(latest["exclusions"]),
            [
                Column("dataset", "dataset", text=True),
                Column("reason", "reason", text=True),
                Column("rows", "rows"),
            ],
        )
    )
    parts.append("<h3>DPO: one row per pair</h3>")
    parts.append(merging_html(latest["pair_merging"]))
    parts.append("<h3>Recorded exports</h3>")
    parts.append(
        html_table(
            data.exports.head(config.history_rows)
            .select("export_id", "created_at", "label_version", "path")
            .to_dicts(),
            [
                Column("export_id", "export", text=True),
                Column("created_at", "written", text=True),
                Column("label_version", "label_version", text=True),
                Column("path", "folder", text=True),
            ],
        )
    )
    parts.append("</section>")
    return "".join(parts)
