"""HTML pieces of the report page: escaping, number formatting, tables, cards and notes.

Every value that reaches the page goes through `esc` (html-escaped, quotes too).
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any


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
