"""Charts as SVG (pygal), the same drawing for the dashboard and the monthly PDF."""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from typing import Any

import pygal
from pygal.style import Style

# The CJK family first: Chinese supplier names and labels must not fall back to empty boxes.
FONT_FAMILY = "'Noto Sans CJK SC', 'Noto Sans SC', 'Noto Sans CJK', 'Source Han Sans SC', sans-serif"

STYLE = Style(
    font_family=FONT_FAMILY,
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1f2933",
    foreground_strong="#1f2933",
    foreground_subtle="#52606d",
    colors=("#1d4f91", "#d97706", "#0f766e", "#b91c1c", "#6b7280"),
    label_font_size=13,
    major_label_font_size=13,
    legend_font_size=13,
    title_font_size=15,
    value_font_size=12,
    tooltip_font_size=12,
)


def _config(**extra: Any) -> dict[str, Any]:
    # No scripts (CSP and PDF), no XML declaration (inlined), and a width that scales down on a phone.
    return {
        "style": STYLE,
        "js": [],
        "disable_xml_declaration": True,
        "width": 720,
        "height": 360,
        "explicit_size": False,
        "legend_at_bottom": True,
        "legend_at_bottom_columns": 2,
        "print_values": False,
        "show_minor_x_labels": True,
        "truncate_label": 24,
        "truncate_legend": 40,
        "margin": 12,
        "no_data_text": "–",
        **extra,
    }


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def pareto(rows: Sequence[dict[str, Any]], *, labels: dict[str, str], title: str, cases: str, cumulative: str) -> str:
    """Cases per problem type, largest first, with the cumulative share on the right axis."""
    chart = pygal.Bar(
        **_config(title=title, x_label_rotation=30, secondary_range=(0, 100), value_formatter=lambda v: f"{v:.0f}")
    )
    chart.x_labels = [str(labels.get(row["problem_type"], row["problem_type"])) for row in rows]
    chart.add(cases, [row["cases"] for row in rows])
    chart.add(cumulative, [round(row["cumulative"] * 100, 1) for row in rows], secondary=True)
    return _svg(chart)


def trend(rows: Sequence[dict[str, Any]], *, title: str, cases: str, rate: str) -> str:
    """Cases per month as bars, the after-sales rate (in %) as a line on the right axis."""
    chart = pygal.Bar(**_config(title=title, value_formatter=lambda v: f"{v:.3g}"))
    chart.x_labels = [row["month"] for row in rows]
    chart.add(cases, [row["cases"] for row in rows])
    rates = [None if row["rate"] is None else round(row["rate"] * 100, 2) for row in rows]
    # pygal cannot scale a secondary axis with no values at all (no deliveries in the period).
    if any(value is not None for value in rates):
        chart.add(rate, rates, secondary=True, formatter=lambda v: f"{v:.2f}%")
    return _svg(chart)


def rates(rows: Sequence[dict[str, Any]], *, title: str, overall: float | None, overall_label: str) -> str:
    """After-sales rate per supplier (or carrier…) with its 95% interval, against the overall rate."""
    shown = [row for row in rows if row["units"]][:12]
    chart = pygal.HorizontalBar(
        **_config(
            title=f"{title} · {overall_label} {_percent(overall)}",
            height=max(220, 80 + 34 * len(shown)),
            show_legend=False,
            value_formatter=lambda v: f"{v:.2f}%",
        )
    )
    chart.x_labels = [str(row["name"]) for row in reversed(shown)]
    chart.add(
        title,
        [
            {
                "value": round((row["rate"] or 0) * 100, 3),
                "ci": {"low": round(row["low"] * 100, 3), "high": round(row["high"] * 100, 3)},
                "color": "#b91c1c" if row.get("significantly_above") else "#1d4f91",
                "label": f"{_percent(row['rate'])} ({_percent(row['low'])}–{_percent(row['high'])})",
            }
            for row in reversed(shown)
        ],
    )
    return _svg(chart)


def _svg(chart: Any) -> str:
    # pygal always embeds a config <script>; the dashboard's CSP and the PDF want none at all.
    return _SCRIPT.sub("", str(chart.render(is_unicode=True)))


_SCRIPT = re.compile(r"<script\b.*?</script>", re.S)


def data_uri(svg: str) -> str:
    """An <img> source: the page's CSP allows data: images, and an image SVG runs no scripts."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
