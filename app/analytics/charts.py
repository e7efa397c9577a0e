"""Charts as SVG (matplotlib), the same drawing for the dashboard and the monthly PDF.

Text stays text (svg.fonttype none): Chinese labels are drawn by the reader's CJK font and can be found
in the SVG. Every chart opens with <title> and <desc> so a screen reader says what it shows.
"""

from __future__ import annotations

import base64
import functools
import gc
import io
import re
import textwrap
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec
from xml.sax.saxutils import escape

import matplotlib as mpl
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

# The CJK family first: Chinese supplier names and labels must not fall back to empty boxes. Matplotlib reads
# the first face of Noto's collection (JP); the browser and WeasyPrint pick the SC face from this list.
FONT_FAMILY = "'Noto Sans CJK SC', 'Noto Sans SC', 'Noto Sans CJK', 'Source Han Sans SC', sans-serif"
_MEASURE_FONTS = ["Noto Sans CJK JP", "Noto Sans CJK SC", "DejaVu Sans"]

BLUE, ORANGE, RED, GREY, INK = "#1d4f91", "#d97706", "#b91c1c", "#6b7280", "#1f2933"

_RC = {
    "svg.fonttype": "none",
    "svg.hashsalt": "crossclaim",
    "font.family": "sans-serif",
    "font.sans-serif": _MEASURE_FONTS,
    "font.size": 10,
    "axes.edgecolor": GREY,
    "axes.labelcolor": INK,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "xtick.color": INK,
    "ytick.color": INK,
    "axes.spines.top": False,
    "legend.frameon": False,
}

WIDTH, HEIGHT = 7.2, 3.6  # inches; the SVG scales down to the page or the phone


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def _wide(text: str) -> bool:
    return any(unicodedata.east_asian_width(ch) in "WF" for ch in text)


def wrap_label(text: str, width: int = 14) -> str:
    """A category label over at most two lines; Chinese breaks between any two characters, counted double."""
    text = str(text)
    if _wide(text):
        per_line = max(1, width // 2)
        lines = [text[i : i + per_line] for i in range(0, len(text), per_line)]
    else:
        lines = textwrap.wrap(text, width) or [""]
    if len(lines) > 2:
        lines = [lines[0], lines[1][:-1] + "…"]
    return "\n".join(lines)


def _figure(height: float = HEIGHT) -> Figure:
    with mpl.rc_context(_RC):
        figure = Figure(figsize=(WIDTH, height), layout="constrained")
    return figure


_P = ParamSpec("_P")


def _collected_after(draw: Callable[_P, str]) -> Callable[_P, str]:
    """Draws without the automatic collections, then frees the figure with a collection of the young objects.

    A figure allocates tens of thousands of short-lived objects; left to the automatic collector they set off
    collections of every object the process holds (about 0.2 s CPU each in the report's process, a third to a
    half of what the four charts cost). The figure's cycles are young, so collecting the two young
    generations frees it.
    """

    @functools.wraps(draw)
    def drawn(*args: _P.args, **kwargs: _P.kwargs) -> str:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return draw(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()
                gc.collect(1)

    return drawn


def _round_ticks(axis: Any, *, integer: bool) -> None:
    axis.set_major_locator(MaxNLocator(nbins=5, integer=integer, steps=[1, 2, 2.5, 5, 10]))


@_collected_after
def pareto(rows: Sequence[dict[str, Any]], *, labels: dict[str, str], title: str, cases: str, cumulative: str) -> str:
    """Cases per problem type as bars, largest first; the cumulative share as a line on a 0–100% right axis."""
    with mpl.rc_context(_RC):
        figure = _figure()
        ax = figure.add_subplot()
        names = [str(labels.get(row["problem_type"], row["problem_type"])) for row in rows]
        counts = [int(row["cases"]) for row in rows]
        positions = list(range(len(rows)))
        bars = ax.bar(positions, counts, color=BLUE, label=cases)
        ax.set_ylim(0, max(counts, default=0) * 1.1 or 1)
        _round_ticks(ax.yaxis, integer=True)
        ax.set_ylabel(cases)
        ax.set_xticks(
            positions,
            [wrap_label(name) for name in names],
            rotation=30 if len(rows) > 4 else 0,
            ha="right" if len(rows) > 4 else "center",
        )
        right = ax.twinx()
        right.spines["top"].set_visible(False)
        shares = [float(row["cumulative"]) * 100 for row in rows]
        (line,) = right.plot(positions, shares, color=ORANGE, marker="o", linewidth=2, label=cumulative)
        line.set_gid("cumulative")
        right.set_ylim(0, 100)
        right.set_yticks([0, 20, 40, 60, 80, 100])
        right.yaxis.set_major_formatter(PercentFormatter(100, decimals=0))
        right.yaxis.set_gid("cumulative-axis")
        right.set_ylabel(cumulative)
        ax.set_title(title, loc="left")
        figure.legend(handles=[bars, line], loc="outside lower center", ncols=2)
        summary = ", ".join(f"{name}: {count}" for name, count in zip(names, counts, strict=True))
        return _svg(figure, title, summary or "–")


@_collected_after
def trend(rows: Sequence[dict[str, Any]], *, title: str, cases: str, rate: str) -> str:
    """Cases per month as bars, the after-sales rate (in %) as a line with its 95% interval on the right axis."""
    with mpl.rc_context(_RC):
        figure = _figure()
        ax = figure.add_subplot()
        months = [str(row["month"]) for row in rows]
        positions = list(range(len(rows)))
        counts = [int(row["cases"]) for row in rows]
        bars = ax.bar(positions, counts, color=BLUE, label=cases)
        ax.set_ylim(0, max(counts, default=0) * 1.1 or 1)
        _round_ticks(ax.yaxis, integer=True)
        ax.set_ylabel(cases)
        ax.set_xticks(positions, months, rotation=30 if len(rows) > 8 else 0, ha="right" if len(rows) > 8 else "center")
        handles: list[Any] = [bars]
        known = [(i, row) for i, row in enumerate(rows) if row.get("rate") is not None]
        if known:
            right = ax.twinx()
            right.spines["top"].set_visible(False)
            xs = [i for i, _row in known]
            ys = [row["rate"] * 100 for _i, row in known]
            low = [max(0.0, (row["rate"] - row.get("low", row["rate"])) * 100) for _i, row in known]
            high = [max(0.0, (row.get("high", row["rate"]) - row["rate"]) * 100) for _i, row in known]
            drawn = right.errorbar(
                xs, ys, yerr=[low, high], color=ORANGE, marker="o", linewidth=2, capsize=3, label=rate
            )
            drawn.lines[0].set_gid("rate")
            top = max(row.get("high", row["rate"]) for _i, row in known) * 100
            right.set_ylim(0, top * 1.1 or 1)
            _round_ticks(right.yaxis, integer=False)
            right.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}%"))
            right.yaxis.set_gid("rate-axis")
            right.set_ylabel(rate)
            handles.append(drawn)
        ax.set_title(title, loc="left")
        figure.legend(handles=handles, loc="outside lower center", ncols=2)
        summary = ", ".join(
            f"{row['month']}: {row['cases']}" + ("" if row.get("rate") is None else f", {_percent(row['rate'])}")
            for row in rows
        )
        return _svg(figure, title, summary or "–")


@_collected_after
def rates(
    rows: Sequence[dict[str, Any]], *, title: str, overall: float | None, overall_label: str, flagged: str = ""
) -> str:
    """After-sales rate per supplier (or carrier…) with its 95% Wilson interval, against the overall rate.

    A row whose interval lies wholly above the overall rate is drawn red and named `flagged` beside its bar.
    """
    shown = [row for row in rows if row["units"]][:12]
    with mpl.rc_context(_RC):
        figure = _figure(max(2.4, 1.0 + 0.36 * len(shown)))
        ax = figure.add_subplot()
        ordered = list(reversed(shown))
        positions = list(range(len(ordered)))
        values = [(row["rate"] or 0) * 100 for row in ordered]
        colours = [RED if row.get("significantly_above") else BLUE for row in ordered]
        ax.barh(positions, values, color=colours, height=0.6)
        errors = [
            [max(0.0, value - row["low"] * 100) for value, row in zip(values, ordered, strict=True)],
            [max(0.0, row["high"] * 100 - value) for value, row in zip(values, ordered, strict=True)],
        ]
        if ordered:
            drawn = ax.errorbar(values, positions, xerr=errors, fmt="none", ecolor=INK, capsize=3, linewidth=1)
            drawn.lines[2][0].set_gid("intervals")
        ax.set_yticks(positions, [wrap_label(str(row["name"]), 24) for row in ordered])
        top = max([row["high"] * 100 for row in ordered] + [(overall or 0) * 100], default=0)
        ax.set_xlim(0, top * 1.25 or 1)
        _round_ticks(ax.xaxis, integer=False)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}%"))
        if overall is not None:
            ax.axvline(overall * 100, color=GREY, linestyle="--", linewidth=1).set_gid("overall")
        for position, row in zip(positions, ordered, strict=True):
            if row.get("significantly_above") and flagged:
                ax.annotate(
                    f"▲ {flagged}",
                    (row["high"] * 100, position),
                    xytext=(4, 0),
                    textcoords="offset points",
                    va="center",
                    color=RED,
                    fontsize=9,
                )
        ax.spines["right"].set_visible(False)
        heading = f"{title} · {overall_label} {_percent(overall)}"
        ax.set_title(heading, loc="left")
        summary = "; ".join(
            f"{row['name']}: {_percent(row['rate'])} ({_percent(row['low'])}–{_percent(row['high'])})"
            + (f", {flagged}" if row.get("significantly_above") and flagged else "")
            for row in shown
        )
        return _svg(figure, heading, summary or "–")


@_collected_after
def p_chart(rows: Sequence[dict[str, Any]], *, title: str, centre: float, rate: str, upper: str, level: str) -> str:
    """A supplier's monthly rate (%) against its own level and each month's upper control limit."""
    with mpl.rc_context(_RC):
        figure = _figure(2.8)
        ax = figure.add_subplot()
        positions = list(range(len(rows)))
        rates = [(row["rate"] or 0) * 100 for row in rows]
        uppers = [row["upper"] * 100 for row in rows]
        ax.step(positions, uppers, where="mid", color=RED, linestyle=":", linewidth=1.5, label=upper)[0].set_gid(
            "upper"
        )
        ax.axhline(centre * 100, color=GREY, linestyle="--", linewidth=1, label=level).set_gid("centre")
        (line,) = ax.plot(positions, rates, color=BLUE, marker="o", linewidth=2, label=rate)
        line.set_gid("monthly-rate")
        for position, value, limit in zip(positions, rates, uppers, strict=True):
            if value > limit:
                ax.plot([position], [value], marker="o", markersize=9, color=RED)
        ax.set_ylim(0, max([*rates, *uppers], default=0) * 1.15 or 1)
        _round_ticks(ax.yaxis, integer=False)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}%"))
        ax.set_xticks(positions, [str(row["month"]) for row in rows], rotation=30 if len(rows) > 6 else 0)
        ax.spines["right"].set_visible(False)
        ax.set_title(title, loc="left")
        figure.legend(loc="outside lower center", ncols=3)
        summary = ", ".join(f"{row['month']}: {_percent(row['rate'])} (≤ {_percent(row['upper'])})" for row in rows)
        return _svg(figure, title, summary or "–")


def _svg(figure: Figure, title: str, description: str) -> str:
    # A figure with a layout engine is drawn twice by savefig (a silent draw to lay it out, then the real one),
    # each draw running the constrained layout again: lay it out once here, then keep those positions.
    layout = figure.get_layout_engine()
    if layout is not None:
        layout.execute(figure)
        figure.set_layout_engine(None)
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = _FONT.sub(f"font-family: {FONT_FAMILY}", svg)
    head = svg.index(">") + 1
    opening = svg[: head - 1] + ' role="img" aria-labelledby="chart-title chart-desc">'
    accessible = f'<title id="chart-title">{escape(title)}</title><desc id="chart-desc">{escape(description)}</desc>'
    return opening + accessible + svg[head:]


# Matplotlib names the one font it measured with; the reader should pick the best CJK face it has.
_FONT = re.compile(r"font-family:\s*'?[^;\"']*'?(?=[;\"])")


def data_uri(svg: str) -> str:
    """An <img> source: the page's CSP allows data: images, and an image SVG runs no scripts."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
