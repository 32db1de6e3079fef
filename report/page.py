"""The report page: every section of `ReportData` assembled into one self-contained HTML document
(inline SVG / base64 PNG plots, small tables, no script, no external resource).

Pure: no database, no file I/O.
"""

from __future__ import annotations

from datetime import datetime

from report.biases import section_biases
from report.changes import section_changes
from report.config import DEFAULT_RENDER_CONFIG, RenderConfig
from report.data import ReportData
from report.data_health import section_health
from report.exports import section_exports
from report.funnel import section_funnel
from report.labels_vs_truth import section_truth
from report.markup import esc, fmt
from report.model_versions import section_versions
from report.overview import section_overview
from report.preference_model import section_model
from report.prompts import section_prompts

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
tr.sig td{background:#eef7ee}tr.worse td{background:#fbeeee}
.verdict{font-size:1.05em;margin:4px 0 10px}
figure{margin:10px 0}figure svg,figure img{max-width:100%;height:auto}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{background:#f0f2f5;border-radius:6px;padding:8px 14px;min-width:120px}
.card b{display:block;font-size:1.2em}
.empty{color:#8a5a00;background:#fff8e6;border:1px solid #f3dfaa;border-radius:6px;padding:8px 12px}
"""


def render_report(
    data: ReportData,
    *,
    generated_at: datetime,
    source: str,
    config: RenderConfig = DEFAULT_RENDER_CONFIG,
) -> str:
    """The whole report as one HTML document (no external resources, no script)."""
    sections = [
        section_changes(data),
        section_overview(data),
        section_versions(data, config),
        section_prompts(data, config),
        section_funnel(data, config),
        section_biases(data, config),
        section_health(data, config),
        section_model(data, config),
        section_truth(data.truth, data, config),
        section_exports(data, config),
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
