"""Each supplier's p-chart: a supplier whose latest month leaves its own limits drifts, before it is
significantly worse over the whole period."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from bs4 import BeautifulSoup

from app.analytics import figures
from app.analytics.control import Month, judge, limits, supplier_drift
from app.analytics.filters import AnalyticsFilters


def test_limits_and_judgement() -> None:
    low, high = limits(0.01, 1000)
    assert (low, high) == (pytest.approx(0.0005606, rel=1e-3), pytest.approx(0.0194394, rel=1e-3))
    steady = [Month(f"2026-0{m}", 10, 1000) for m in range(1, 6)]
    assert judge(steady[:3]) is None  # three months are not yet a baseline
    assert judge(steady)["drifting"] is False
    jumped = judge([*steady, Month("2026-06", 25, 1000)])
    assert jumped is not None and jumped["drifting"] and jumped["centre"] == pytest.approx(0.01)


async def deliveries(supplier: str, affected_per_month: list[int]) -> int:
    from app.cases.tables import Case
    from app.trade.tables import OrderLine, Product, PurchaseOrder, Supplier

    made = Supplier(code=supplier, name=supplier)
    await made.save()
    product = Product(sku=f"{supplier}-1", name="Lamp", category="electronics", supplier=made.id)
    await product.save()
    for index, affected in enumerate(affected_per_month, start=1):
        delivered = date(2026, index, 10)
        order = PurchaseOrder(number=f"{supplier}-{index}", supplier=made.id, delivered_on=delivered)
        await order.save()
        line = OrderLine(
            line_key=f"{order.number}#1",
            purchase_order=order.id,
            line_no=1,
            product=product.id,
            quantity_ordered=1000,
            quantity_delivered=1000,
        )
        await line.save()
        if affected:
            at = datetime(2026, index, 15, tzinfo=UTC)
            await Case(
                number=f"CC-{supplier}-{index}",
                purchase_order=order.id,
                order_line=line.id,
                product=product.id,
                supplier=made.id,
                quantity_affected=affected,
                problem_type="quality_defect",
                created_at=at,
                node_entered_at=at,
            ).save()
    return int(made.id)


async def test_a_supplier_drifts_before_it_is_significantly_worse() -> None:
    drifting = await deliveries("A", [10, 9, 11, 10, 10, 26])
    steady = await deliveries("B", [13, 12, 14, 12, 13, 13])
    filters = AnalyticsFilters(start=date(2026, 1, 1), end=date(2026, 6, 30))
    rows = {row["key"]: row for row in await supplier_drift(filters)}
    assert rows[drifting]["drifting"] and rows[drifting]["month"] == "2026-06"
    assert rows[drifting]["rate"] == pytest.approx(0.026) and rows[drifting]["baseline_months"] == 5
    assert not rows[steady]["drifting"]
    assert next(row["key"] for row in await supplier_drift(filters)) == drifting
    # Over the half year, A is not significantly above everyone: only its own chart shows the change.
    ranking = {row["key"]: row for row in (await figures.summary(filters))["suppliers"]}
    assert not ranking[drifting]["significantly_above"]


async def test_the_dashboard_shows_who_drifts(client: Any, login: Any) -> None:
    await deliveries("A", [10, 9, 11, 10, 10, 26])
    await login("manager")
    page = BeautifulSoup((await client.get("/dashboard?from=2026-06-01&to=2026-06-30")).text, "html.parser")
    first = page.select_one("#supplier-drift tbody tr.flagged")
    assert first is not None and first.select_one("td").get_text() == "A"
    assert "2.60%" in first.get_text() and "1.00%" in first.get_text()
    # Its own p-chart follows the table (only drifting suppliers get one).
    charts = page.select("#supplier-drift ~ figure.drift-chart img")
    assert len(charts) == 1 and charts[0]["src"].startswith("data:image/svg+xml;base64,")
    assert charts[0]["alt"].startswith("A · ")
