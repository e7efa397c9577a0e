"""What a purchase order says about a shipment: its parties, terms and lines, found by its number."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final

from app.trade.tables import OrderLine, PurchaseOrder

# "PO-1234#2" names line 2 of order PO-1234, as printed on our pick lists.
LINE_SEPARATOR: Final = "#"


@dataclass(frozen=True)
class OrderLineInfo:
    id: int
    line_no: int
    product_id: int
    sku: str
    name: str
    quantity_ordered: int
    quantity_delivered: int


@dataclass(frozen=True)
class OrderInfo:
    """What the purchase order says about a shipment: the parties, terms and lines a report links to."""

    purchase_order_id: int
    number: str
    supplier_id: int
    supplier_name: str
    carrier_id: int | None
    carrier_name: str
    incoterm: str
    transport_mode: str
    region: str
    delivered_on: date | None
    lines: tuple[OrderLineInfo, ...]
    currency: str = ""  # the order's: claims and plans on its case are in it

    def line(self, line_no: int | None) -> OrderLineInfo | None:
        """The named line, or the only one when the order has just one."""
        if line_no is None:
            return self.lines[0] if len(self.lines) == 1 else None
        return next((line for line in self.lines if line.line_no == line_no), None)


def split_order_number(text: str) -> tuple[str, int | None]:
    """("PO-1", 2) from "PO-1#2"; a suffix that is not a number stays part of the order number."""
    number, separator, suffix = text.strip().rpartition(LINE_SEPARATOR)
    if separator and number and suffix.strip().isdigit():
        return number.strip(), int(suffix)
    return text.strip(), None


async def order_lookup(order_number: str) -> OrderInfo | None:
    """The purchase order with this number and its lines, or None when we have no such order on file."""
    number, _line = split_order_number(order_number)
    if not number:
        return None
    order = (
        await PurchaseOrder.objects(PurchaseOrder.supplier, PurchaseOrder.carrier)
        .where(PurchaseOrder.number == number)
        .first()
    )
    if order is None:
        return None
    lines = await (
        OrderLine.select(
            OrderLine.id,
            OrderLine.line_no,
            OrderLine.product.id.as_alias("product_id"),
            OrderLine.product.sku.as_alias("sku"),
            OrderLine.product.name.as_alias("name"),
            OrderLine.quantity_ordered,
            OrderLine.quantity_delivered,
        )
        .where(OrderLine.purchase_order == order.id)
        .order_by(OrderLine.line_no)
    )
    carrier = order.carrier if order.carrier is not None and order.carrier.id else None
    return OrderInfo(
        purchase_order_id=order.id,
        number=order.number,
        supplier_id=order.supplier.id,
        supplier_name=order.supplier.name,
        carrier_id=carrier.id if carrier else None,
        carrier_name=carrier.name if carrier else "",
        incoterm=order.incoterm,
        transport_mode=order.transport_mode,
        region=order.region,
        delivered_on=order.delivered_on,
        lines=tuple(OrderLineInfo(**line) for line in lines),
        currency=order.currency or "",
    )
