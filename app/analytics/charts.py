"""Charts as SVG (matplotlib), the same drawing for the dashboard and the monthly PDF.

Text stays text (svg.fonttype none): Chinese labels are drawn by the reader's CJK font and can be found
in the SVG. Every chart opens with <title> and <desc> so a screen reader says what it shows.
"""

from __future__ import annotations

import base64
import functools
import gc
import io
import math
import re
import textwrap
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec
from xml.sax.saxutils import escape

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import TextToPath
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
        figure = Figure(figsize=(WIDTH, height))
    return figure


# The margins around a chart's plot are computed from its labels' measured widths (`_fit`) instead of by
# matplotlib's constrained layout, which took the tight box of every axis, tick and text twice per pass, two
# passes per figure: 40% of what a chart cost (0.1 s CPU of the report's 0.26 s of charts). In points:
_FONT_SIZE, _TITLE_SIZE = 10.0, 12.0
_EDGE = 4.0  # around the figure, as the constrained layout's pad
_TICK = 3.5 + 3.5  # tick length and the gap to its label
_LABEL_PAD = 4.0  # axis label to tick labels
_TITLE_PAD = 6.0
_LEGEND = _FONT_SIZE * 2.6  # one row: the text, the legend's border pad and its gap to the figure's edge
_LINE = 1.2  # matplotlib's line spacing
_TEXT = TextToPath()


@functools.cache
def _text_width(text: str, size: float, bold: bool = False) -> float:
    """Points of the widest line of a label in the measuring fonts; measured once per process."""
    with mpl.rc_context(_RC):  # the fonts (and fallbacks) the chart's text is drawn with
        font = FontProperties(family="sans-serif", size=size, weight="bold" if bold else "normal")
        return max(_TEXT.get_text_width_height_descent(line, font, ismath=False)[0] for line in text.split("\n"))


def _extent(text: str, size: float = _FONT_SIZE, rotation: float = 0) -> tuple[float, float]:
    """Width and height in points of a label's box, turned by `rotation` degrees."""
    width, height = _text_width(text, size), size * _LINE * (text.count("\n") + 1)
    turn = math.radians(rotation)
    return (
        width * abs(math.cos(turn)) + height * abs(math.sin(turn)),
        width * abs(math.sin(turn)) + height * abs(math.cos(turn)),
    )


def _ticks(axis: Axis) -> list[tuple[float, str]]:
    """The axis's labelled ticks inside its view: (fraction of the way along the axis, label)."""
    low, high = axis.get_view_interval()
    locations = list(axis.get_major_locator()())
    labels = axis.get_major_formatter().format_ticks(locations)
    span = (high - low) or 1.0
    return [
        ((location - low) / span, str(label))
        for location, label in zip(locations, labels, strict=True)
        if label and min(low, high) - 1e-9 <= location <= max(low, high) + 1e-9
    ]


def _widest(ticks: list[tuple[float, str]], rotation: float = 0) -> tuple[float, float]:
    """The largest width and height of tick labels."""
    extents = [_extent(label, rotation=rotation) for _at, label in ticks] or [(0.0, 0.0)]
    return max(width for width, _height in extents), max(height for _width, height in extents)


def _fit(
    figure: Figure,
    ax: Axes,
    *,
    right_axis: Axes | None = None,
    rotation: float = 0,
    anchored_right: bool = False,
    legend: bool = False,
    beyond_right: float = 0,
) -> None:
    """Places the plot so that the title, tick labels, axis labels and legend fit inside the figure.

    `rotation` turns the x tick labels (`anchored_right`: a label ends at its tick, else it is centred on it);
    `beyond_right` is how far (points) text drawn in the plot (a flag beside a bar) reaches past its right edge.
    """
    width, height = figure.get_size_inches() * 72
    line = _FONT_SIZE * _LINE
    left_reach = _TICK + _widest(_ticks(ax.yaxis))[0]  # from the plot's edge to the far side of its tick labels
    left = _EDGE + left_reach + (line + _LABEL_PAD if ax.get_ylabel() else 0)
    right = _EDGE + beyond_right
    right_reach = 0.0
    if right_axis is not None:
        right_reach = _TICK + _widest(_ticks(right_axis.yaxis))[0]
        right += right_reach + (line + _LABEL_PAD if right_axis.get_ylabel() else 0)
    x_ticks = _ticks(ax.xaxis)
    if x_ticks:
        # The first and last x labels may reach past the plot's sides (a turned label anchored at its tick by its
        # whole width, a centred one by half): solve for the margin that keeps them inside the figure.
        (first_at, first), (last_at, last) = x_ticks[0], x_ticks[-1]
        reach = _extent(first, rotation=rotation)[0] * (1 if anchored_right else 0.5)
        if first_at < 1:
            left = max(left, (_EDGE + reach - first_at * (width - right)) / (1 - first_at))
        reach = 0 if anchored_right else _extent(last, rotation=rotation)[0] / 2
        if last_at > 0:
            right = max(right, (_EDGE + reach - (1 - last_at) * (width - left)) / last_at)
    title = _TITLE_SIZE * _LINE * (ax.get_title(loc="left").count("\n") + 1)
    top = _EDGE + title + _TITLE_PAD
    bottom_reach = _TICK + _widest(x_ticks, rotation)[1]
    bottom = _EDGE + bottom_reach + (line + _LABEL_PAD if ax.get_xlabel() else 0) + (_LEGEND if legend else 0)
    figure.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height, top=1 - top / height)
    # The axis labels where matplotlib would put them (beyond the tick labels), given here: left to itself, each
    # axis measured its own and its siblings' tick labels again on every draw (15% of a chart).
    plot_width, plot_height = width - left - right, height - top - bottom
    ax.yaxis.set_label_coords(-(left_reach + _LABEL_PAD) / plot_width, 0.5)
    ax.xaxis.set_label_coords(0.5, -(bottom_reach + _LABEL_PAD) / plot_height)
    if right_axis is not None:
        right_axis.yaxis.set_label_coords(1 + (right_reach + _LABEL_PAD) / plot_width, 0.5)
        right_axis.xaxis.set_label_coords(0.5, -(bottom_reach + _LABEL_PAD) / plot_height)


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


def _title(ax: Axes, text: str) -> None:
    # At the plot's top, as nothing is drawn above a plot here: left to place it, matplotlib measured the tick
    # labels of every axis again on each draw to find what might be (5% of a chart, the same SVG).
    ax.set_title(text, loc="left", y=1.0)


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
        turned = len(rows) > 4
        ax.set_xticks(
            positions,
            [wrap_label(name) for name in names],
            rotation=30 if turned else 0,
            ha="right" if turned else "center",
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
        _title(ax, title)
        figure.legend(handles=[bars, line], loc="lower center", ncols=2)
        _fit(figure, ax, right_axis=right, rotation=30 if turned else 0, anchored_right=turned, legend=True)
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
        turned = len(rows) > 8
        ax.set_xticks(positions, months, rotation=30 if turned else 0, ha="right" if turned else "center")
        handles: list[Any] = [bars]
        right = None
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
        _title(ax, title)
        figure.legend(handles=handles, loc="lower center", ncols=2)
        _fit(figure, ax, right_axis=right, rotation=30 if turned else 0, anchored_right=turned, legend=True)
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
        flags = [row for row in ordered if row.get("significantly_above") and flagged]
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
        _title(ax, heading)
        _fit(figure, ax, beyond_right=_flags_beyond(figure, ax, flags, f"▲ {flagged}"))
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
        turned = len(rows) > 6
        ax.set_xticks(positions, [str(row["month"]) for row in rows], rotation=30 if turned else 0)
        ax.spines["right"].set_visible(False)
        _title(ax, title)
        figure.legend(loc="lower center", ncols=3)
        _fit(figure, ax, rotation=30 if turned else 0, legend=True)
        summary = ", ".join(f"{row['month']}: {_percent(row['rate'])} (≤ {_percent(row['upper'])})" for row in rows)
        return _svg(figure, title, summary or "–")


def _flags_beyond(figure: Figure, ax: Axes, rows: Sequence[dict[str, Any]], flag: str) -> float:
    """How far (points) the widest flag beside a bar reaches past the plot's right edge, at the margins
    the plot would have without it."""
    if not rows:
        return 0.0
    _fit(figure, ax)
    plot_width = float(ax.get_position().width * figure.get_size_inches()[0] * 72)
    low, high = ax.get_xlim()
    reach = max((row["high"] * 100 - low) / (high - low) * plot_width + 4 + _text_width(flag, 9) for row in rows)
    return max(0.0, float(reach) - plot_width)


def _svg(figure: Figure, title: str, description: str) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = _FONT.sub(f"font-family: {FONT_FAMILY}", svg)
    head = svg.index(">") + 1
    opening = svg[: head - 1] + ' role="img" aria-labelledby="chart-title chart-desc">'
    accessible = f'<title id="chart-title">{escape(title)}</title><desc id="chart-desc">{escape(description)}</desc>'
    return opening + accessible + svg[head:]


# Matplotlib names the fonts it measured with (the JP face first); the reader should pick the best CJK face it
# has. The whole list is replaced: left in front, the JP face drew Chinese with Japanese glyph forms, and WeasyPrint
# embedded it (regular and bold) beside the page's SC face.
_FONT = re.compile(r"font-family:[^;\"]*")


def data_uri(svg: str) -> str:
    """An <img> source: the page's CSP allows data: images, and an image SVG runs no scripts."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
