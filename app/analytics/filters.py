"""The dashboard's filters: the period and its narrowing, read from a request, and the choices they offer."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from app.cases.tables import Case
from app.trade.tables import Carrier, Product, Supplier


@dataclass(frozen=True)
class AnalyticsFilters:
    """A period (both days included) and the dashboard's narrowing filters."""

    start: date
    end: date
    supplier_id: int | None = None
    carrier_id: int | None = None
    product_id: int | None = None
    category: str = ""
    region: str = ""
    problem_type: str = ""

    def shifted_month_back(self) -> AnalyticsFilters:
        """The same filters over the previous calendar month (for month-over-month change)."""
        first = self.start.replace(day=1)
        end = first - timedelta(days=1)
        return replace(self, start=end.replace(day=1), end=end)

    def case_link(self, *, cohort: bool = False, **extra: Any) -> dict[str, Any]:
        """Query parameters for the case list that shows the cases behind a number."""
        window = (
            {"delivered_from": self.start.isoformat(), "delivered_to": self.end.isoformat()}
            if cohort
            else {"created_from": self.start.isoformat(), "created_to": self.end.isoformat()}
        )
        params: dict[str, Any] = {
            **window,
            "supplier": self.supplier_id or "",
            "carrier": self.carrier_id or "",
            "product": self.product_id or "",
            "category": self.category,
            "region": self.region,
            "problem_type": self.problem_type,
        }
        params.update(extra)
        return {key: value for key, value in params.items() if value not in ("", None)}


def month_bounds(month: str) -> tuple[date, date]:
    """'2026-05' → (2026-05-01, 2026-05-31)."""
    first = datetime.strptime(month, "%Y-%m").date()
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first, following - timedelta(days=1)


async def filter_choices() -> dict[str, Any]:
    """Suppliers, carriers, categories and regions to choose from on the dashboard."""
    suppliers = await Supplier.select(Supplier.id, Supplier.name).order_by(Supplier.name)
    carriers = await Carrier.select(Carrier.id, Carrier.name).order_by(Carrier.name)
    categories = await Product.raw("SELECT DISTINCT category AS v FROM product WHERE category <> '' ORDER BY v")
    regions = await Case.raw("SELECT DISTINCT region AS v FROM purchase_order WHERE region <> '' ORDER BY v")
    return {
        "suppliers": suppliers,
        "carriers": carriers,
        "categories": [row["v"] for row in categories],
        "regions": [row["v"] for row in regions],
    }


def default_period(today: date) -> tuple[date, date]:
    """The last six calendar months, this one included."""
    first = today.replace(day=1)
    for _ in range(5):
        first = (first - timedelta(days=1)).replace(day=1)
    return first, today


def parse_filters(
    *,
    today: date,
    start: str = "",
    end: str = "",
    supplier: str = "",
    carrier: str = "",
    product: str = "",
    category: str = "",
    region: str = "",
    problem_type: str = "",
) -> AnalyticsFilters:
    """Filters from query text; a bad value is a ValidationFailed naming the field."""
    from app.errors import ValidationFailed
    from app.i18n import gettext as _

    fields: list[tuple[str, str]] = []

    def day(name: str, text: str, fallback: date) -> date:
        if not text:
            return fallback
        try:
            return date.fromisoformat(text)
        except ValueError:
            fields.append((name, _("Use a date like 2026-05-31.")))
            return fallback

    def number(name: str, text: str) -> int | None:
        if not text:
            return None
        if not text.isdecimal():
            fields.append((name, _("Choose one from the list.")))
            return None
        return int(text)

    default_start, default_end = default_period(today)
    filters = AnalyticsFilters(
        start=day("from", start, default_start),
        end=day("to", end, default_end),
        supplier_id=number("supplier", supplier),
        carrier_id=number("carrier", carrier),
        product_id=number("product", product),
        category=category[:60],
        region=region[:60],
        problem_type=problem_type[:30],
    )
    if filters.end < filters.start:
        fields.append(("to", _("The end of the period comes before its start.")))
    elif (filters.end - filters.start).days > 366 * 5:
        fields.append(("from", _("Choose a period of at most five years.")))
    if fields:
        raise ValidationFailed(_("Some filters could not be read."), fields=fields)
    return filters


async def products_of(supplier_id: int) -> list[dict[str, Any]]:
    return list(
        await Product.select(Product.id, Product.sku, Product.name)
        .where(Product.supplier == supplier_id)
        .order_by(Product.sku)
    )
