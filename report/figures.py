"""The report's plots: matplotlib figures of a configured size, drawn as inline SVG or base64 PNG.

Plot labels are drawn with mathtext off so a `$` in a model version is text, not a formula.
"""

from __future__ import annotations

import base64
import io
import math
from contextlib import AbstractContextManager
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

from report.config import RenderConfig  # noqa: E402
from report.markup import esc, fmt  # noqa: E402

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


def plot_style() -> AbstractContextManager[Any]:
    """The report's matplotlib settings (`RC_PARAMS`) for the figures drawn inside the block."""
    return plt.rc_context(RC_PARAMS)


def plot_text(value: object) -> str:
    """A label for matplotlib (mathtext is off; matplotlib escapes XML in SVG text)."""
    return fmt(value)


def new_figure(config: RenderConfig, height_scale: float = 1.0) -> tuple[Figure, Any]:
    """A figure of the configured width and `height_scale` times the configured height."""
    return sized_figure(config.figure_width_in, config.figure_height_in * height_scale)


def sized_figure(width_in: float, height_in: float) -> tuple[Figure, Any]:
    """A figure with one axes, `width_in` x `height_in` inches, laid out by constrained layout."""
    fig, ax = plt.subplots(figsize=(width_in, height_in), layout="constrained")
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
