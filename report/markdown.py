"""Markdown and table cells of the run-summary artifacts: formatting shared by every stage's builders.

Pure: values in, markdown text or JSON-safe rows out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

TABLE_FLOAT_DIGITS = 4  # floats in table artifacts; markdown shows MARKDOWN_FLOAT_DIGITS
MARKDOWN_FLOAT_DIGITS = 3


def cell_text(value: object) -> str:
    """A value as markdown table cell text: thousands separators, 3-digit floats, '-' for none."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.{MARKDOWN_FLOAT_DIGITS}f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def percent_text(fraction: float | None) -> str:
    """A fraction as a percentage with one decimal, '-' for none."""
    return "-" if fraction is None else f"{fraction:.1%}"


def markdown_table(
    rows: Sequence[Mapping[str, object]], columns: Sequence[str] | None = None
) -> str:
    """A GitHub-flavoured markdown table; numeric columns right-aligned. Empty rows give '_none_'."""
    if not rows:
        return "_none_"
    columns = list(columns or rows[0].keys())
    numeric = {
        c
        for c in columns
        if all(
            isinstance(r.get(c), int | float) and not isinstance(r.get(c), bool)
            for r in rows
            if r.get(c) is not None
        )
    }
    lines = [
        "| " + " | ".join(columns) + " |",
        "|" + "|".join("---:" if c in numeric else "---" for c in columns) + "|",
    ]
    lines += ["| " + " | ".join(cell_text(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def table_value(value: object) -> object:
    """A JSON-safe table cell: non-finite floats become None, floats are rounded."""
    if isinstance(value, float):
        return round(value, TABLE_FLOAT_DIGITS) if math.isfinite(value) else None
    return value


def table_rows(rows: Sequence[Mapping[str, object]]) -> list[dict[str, object]]:
    """Rows with JSON-safe cells (see `table_value`)."""
    return [{k: table_value(v) for k, v in row.items()} for row in rows]


def share(part: float, whole: float) -> float | None:
    """part / whole, or None when whole is zero."""
    return part / whole if whole else None
