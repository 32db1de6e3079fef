"""The "What changed" section: figures lined up with the previous run's, which way each moved, and the
one-line verdict; and the export section read from a recorded export."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import polars as pl

from report.changes import compare_figures, figure, latest_export, verdict
from report.config import RenderConfig
from report.exports import section_exports
from tests.report.test_page import tiny_report

BEFORE = [
    figure("labels", "label_version", "lv1"),
    figure("labels", "labeled generations", 100, "higher"),
    figure("model", "champion pair accuracy", 0.70, "higher"),
    figure("quarantine", "quarantined share", 0.010, "lower"),
]


def after(**values: object) -> list[dict]:
    current = {f["figure"]: f["value"] for f in BEFORE} | values
    return [{**f, "value": current[f["figure"]]} for f in BEFORE]


def test_the_first_report_has_nothing_to_compare() -> None:
    rows = compare_figures(BEFORE, None)
    assert not any(r["changed"] for r in rows)
    assert verdict(rows, None).startswith("First report of this warehouse")


def test_unchanged_figures_give_no_change() -> None:
    rows = compare_figures(after(), BEFORE)
    assert (
        verdict(rows, "2025-01-01 10:00 UTC")
        == "No change since the previous report (2025-01-01 10:00 UTC)."
    )


def test_directions_decide_better_worse_or_mixed() -> None:
    better = compare_figures(
        after(**{"labeled generations": 150, "champion pair accuracy": 0.74}), BEFORE
    )
    assert [r["direction"] for r in better] == [None, "better", "better", None]
    line = verdict(better, "yesterday")
    assert line.startswith("Better since the previous report (yesterday): ")
    assert "labeled generations 100 → 150 (+50)" in line and "0.700 → 0.740" in line
    assert "\n" not in line
    mixed = compare_figures(
        after(**{"champion pair accuracy": 0.74, "quarantined share": 0.02}), BEFORE
    )
    assert verdict(mixed, "yesterday").startswith("Mixed")
    worse = compare_figures(after(**{"quarantined share": 0.02}), BEFORE)
    assert verdict(worse, "yesterday").startswith("Worse")
    relabeled = compare_figures(after(label_version="lv2"), BEFORE)
    assert verdict(relabeled, "yesterday") == (
        "Changed since the previous report (yesterday): label_version lv1 → lv2."
    )
    new_figure = compare_figures([*after(), figure("export", "dpo rows", 10)], BEFORE)
    assert new_figure[-1]["changed"] and new_figure[-1]["previous"] is None


def test_export_section_reads_the_newest_recorded_export() -> None:
    counts = {"dpo": {"train": 9, "test": 1}, "prompts": {"train": 4}}
    exclusions = {"dpo": {"no_consent": 3, "flagged_chosen": 0}, "prompts": {"flagged": 2}}
    merging = {
        "evidence_rows": 17,
        "merged_pairs": 12,
        "exported_pairs": 10,
        "exported_by_sources": {"select+sibling": 4},
    }
    exports = pl.DataFrame(
        {
            "export_id": ["new", "old"],
            "created_at": [datetime(2025, 1, 2, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)],
            "label_version": ["lv1", "lv0"],
            "champion_model_id": [None, None],
            "counts": [json.dumps(counts), "{}"],
            "exclusions": [json.dumps(exclusions), "{}"],
            "pair_merging": [json.dumps(merging), None],
            "path": ["/exports/new", "/exports/old"],
        }
    )
    assert latest_export(exports)["counts"] == counts
    html = section_exports(replace(tiny_report("v1"), exports=exports), RenderConfig())
    for text in (
        "new",
        "/exports/new",
        "no_consent",
        "select+sibling",
        "<b>17</b>evidence rows read",
        "<b>10</b>DPO rows exported",
    ):
        assert text in html
    assert "flagged_chosen" not in html  # reasons with no rows are not listed
