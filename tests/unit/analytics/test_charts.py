"""Charts: SVG without scripts, Chinese labels kept as text, empty data still drawn."""

from xml.etree import ElementTree

from app.analytics import charts


def parse(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg)


def test_rates_chart_keeps_chinese_names_and_flags_in_red() -> None:
    rows = [
        {"name": "深圳明亮电子", "units": 1000, "rate": 0.05, "low": 0.04, "high": 0.06, "significantly_above": True},
        {"name": "Osaka Craft", "units": 1000, "rate": 0.01, "low": 0.005, "high": 0.02, "significantly_above": False},
    ]
    svg = charts.rates(rows, title="售后率", overall=0.02, overall_label="整体")
    root = parse(svg)
    texts = "".join(root.itertext())
    assert "深圳明亮电子" in texts and "售后率" in texts and "整体 2.0%" in texts
    assert "<script" not in svg and "Noto Sans CJK SC" in svg
    assert "#b91c1c" in svg  # the flagged supplier's bar


def test_empty_data_still_gives_a_valid_svg() -> None:
    for svg in (
        charts.pareto([], labels={}, title="t", cases="c", cumulative="x"),
        charts.trend([{"month": "2026-01", "cases": 0, "rate": None}], title="t", cases="c", rate="r"),
        charts.rates([], title="t", overall=None, overall_label="o"),
    ):
        assert parse(svg).tag.endswith("svg") and "<script" not in svg


def test_pareto_orders_bars_as_given_with_cumulative_on_the_right() -> None:
    rows = [
        {"problem_type": "quality_defect", "cases": 6, "cumulative": 0.6},
        {"problem_type": "transit_damage", "cases": 4, "cumulative": 1.0},
    ]
    svg = charts.pareto(rows, labels={"quality_defect": "质量缺陷"}, title="P", cases="件数", cumulative="累计")
    texts = "".join(parse(svg).itertext())
    assert texts.index("质量缺陷") < texts.index("transit_damage")
    assert charts.data_uri(svg).startswith("data:image/svg+xml;base64,")
