"""Report section "Overview": warehouse totals as cards, and the span of the events."""

from __future__ import annotations

from report.data import ReportData
from report.markup import cards, fmt, note


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
