"""Charts parsed back as SVG: the Pareto line on a 0–100% right axis, Wilson intervals as error bars,
flagged suppliers marked in words and colour, round ticks from zero, titles for screen readers, in en and zh."""

import re
from xml.etree import ElementTree

import pytest

from app.analytics import charts

NS = {"svg": "http://www.w3.org/2000/svg"}


def parse(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg)


def group(root: ElementTree.Element, gid: str) -> ElementTree.Element:
    found = root.find(f".//svg:g[@id='{gid}']", NS)
    assert found is not None, f"no group {gid!r}"
    return found


def tick_labels(axis: ElementTree.Element) -> list[str]:
    return [text.strip() for text in axis.itertext() if text.strip()]


def line_points(line: ElementTree.Element) -> list[tuple[float, float]]:
    path = line.find(".//svg:path", NS)
    assert path is not None
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", path.get("d", ""))]
    return list(zip(numbers[::2], numbers[1::2], strict=True))


PARETO = [
    {"problem_type": "quality_defect", "cases": 60, "cumulative": 0.6},
    {"problem_type": "transit_damage", "cases": 25, "cumulative": 0.85},
    {"problem_type": "wrong_item", "cases": 10, "cumulative": 0.95},
    {"problem_type": "missing_parts", "cases": 5, "cumulative": 1.0},
]


@pytest.mark.parametrize(
    ("labels", "title", "cases", "cumulative"),
    [
        ({"quality_defect": "Quality defect"}, "Cases by problem type", "Cases", "Cumulative share (%)"),
        ({"quality_defect": "质量缺陷", "transit_damage": "运输损坏"}, "按问题类型的案件", "案件", "累计占比 (%)"),
    ],
)
def test_pareto_draws_the_cumulative_share_as_a_line_on_a_0_to_100_right_axis(
    labels: dict[str, str], title: str, cases: str, cumulative: str
) -> None:
    svg = charts.pareto(PARETO, labels=labels, title=title, cases=cases, cumulative=cumulative)
    root = parse(svg)
    assert root.findtext("svg:title", namespaces=NS) == title
    assert "60" in (root.findtext("svg:desc", namespaces=NS) or "")
    assert tick_labels(group(root, "cumulative-axis"))[-2:] == ["100%", cumulative]
    assert tick_labels(group(root, "cumulative-axis"))[0] == "0%"
    points = line_points(group(root, "cumulative"))
    assert len(points) == len(PARETO)
    ys = [y for _x, y in points]
    assert ys == sorted(ys, reverse=True)  # SVG y grows downwards: the share only rises
    texts = "".join(root.itertext())
    assert texts.index(labels["quality_defect"]) < texts.index(labels.get("transit_damage", "transit_damage"))
    assert "<script" not in svg and "Noto Sans CJK SC" in svg
    assert charts.data_uri(svg).startswith("data:image/svg+xml;base64,")


def test_pareto_bars_stay_inside_the_plot() -> None:
    root = parse(charts.pareto(PARETO, labels={}, title="t", cases="c", cumulative="x"))
    patch = root.find(".//svg:g[@id='patch_2']/svg:path", NS)  # the axes' background: the plot area
    assert patch is not None
    frame = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", patch.get("d", ""))]
    plot_top = min(frame[1::2])
    bars = [
        [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", path.get("d", ""))]
        for path in root.findall(".//svg:g[@id='axes_1']/svg:g/svg:path", NS)
        if "#1d4f91" in (path.get("style") or "")
    ]
    assert len(bars) == len(PARETO)
    assert min(min(bar[1::2]) for bar in bars) >= plot_top


def test_rates_chart_shows_intervals_and_marks_the_significantly_worse_supplier() -> None:
    rows = [
        {"name": "深圳明亮电子", "units": 1000, "rate": 0.05, "low": 0.04, "high": 0.06, "significantly_above": True},
        {"name": "Osaka Craft", "units": 1000, "rate": 0.01, "low": 0.005, "high": 0.02, "significantly_above": False},
    ]
    svg = charts.rates(rows, title="售后率", overall=0.02, overall_label="整体", flagged="显著偏高")
    root = parse(svg)
    texts = "".join(root.itertext())
    assert "深圳明亮电子" in texts and "整体 2.0%" in texts
    assert texts.count("显著偏高") == 2  # beside the bar, and in the description for a screen reader
    assert "#b91c1c" in svg  # the flagged supplier's bar
    assert len(group(root, "intervals").findall(".//svg:path", NS)) >= 1
    assert root.find(".//svg:g[@id='overall']", NS) is not None


def test_trend_ticks_are_round_and_start_at_zero() -> None:
    rows = [
        {"month": f"2026-{m:02d}", "cases": 7 * m, "rate": 0.003 * m, "low": 0.002 * m, "high": 0.004 * m}
        for m in range(1, 7)
    ]
    root = parse(charts.trend(rows, title="t", cases="Cases", rate="Rate (%)"))
    labels = tick_labels(group(root, "rate-axis"))
    assert labels[0] == "0%" and labels[-1] == "Rate (%)"
    for label in labels[:-1]:
        assert re.fullmatch(r"\d+(\.\d)?%", label), label  # 0.5%, 1%, 2.5% — never 0.169
    assert group(root, "rate") is not None


def test_empty_data_still_gives_a_valid_svg() -> None:
    for svg in (
        charts.pareto([], labels={}, title="t", cases="c", cumulative="x"),
        charts.trend([{"month": "2026-01", "cases": 0, "rate": None}], title="t", cases="c", rate="r"),
        charts.rates([], title="t", overall=None, overall_label="o"),
    ):
        root = parse(svg)
        assert root.tag.endswith("svg") and "<script" not in svg
        assert root.findtext("svg:title", namespaces=NS)


def test_long_chinese_labels_wrap_over_two_lines_at_most() -> None:
    assert charts.wrap_label("深圳明亮电子有限公司出口部") == "深圳明亮电子有\n限公司出口部"
    assert charts.wrap_label("transit damage to the outer carton", 14).count("\n") == 1


def test_p_chart_draws_the_rate_against_its_own_limits() -> None:
    rows = [{"month": f"2026-0{m}", "rate": 0.01, "upper": 0.019} for m in range(1, 6)]
    rows.append({"month": "2026-06", "rate": 0.026, "upper": 0.019})
    svg = charts.p_chart(rows, title="深圳明亮电子", centre=0.01, rate="比率", upper="上控制限", level="自身水平")
    root = parse(svg)
    assert len(line_points(group(root, "monthly-rate"))) == 6
    assert group(root, "upper") is not None and group(root, "centre") is not None
    assert "2026-06: 2.6% (≤ 1.9%)" in (root.findtext("svg:desc", namespaces=NS) or "")
    assert svg.count("#b91c1c") >= 2  # the limit line and the month above it


def test_every_text_asks_for_the_simplified_chinese_face_first() -> None:
    # Matplotlib writes the fonts it measured with (the collection's JP face first): Chinese drawn from that list
    # takes Japanese glyph forms, and a PDF embeds that face beside the page's SC face.
    svg = charts.rates(
        [{"name": "深圳明亮电子", "units": 10, "rate": 0.1, "low": 0.05, "high": 0.2, "significantly_above": True}],
        title="售后率",
        overall=0.05,
        overall_label="整体",
        flagged="显著偏高",
    )
    families = re.findall(r"font-family:([^;\"]*)", svg)
    assert families and {family.strip() for family in families} == {charts.FONT_FAMILY}
