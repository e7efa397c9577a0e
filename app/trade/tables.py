"""Trading partners and purchase orders: who ships what, and the units that set after-sales rates."""

from decimal import Decimal

from piccolo.columns import JSON, Date, ForeignKey, Integer, Numeric, Serial, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table


class Supplier(Table):
    id: Serial  # Piccolo adds the primary key; declared so type checkers know it
    code = Varchar(length=40, unique=True, index=True)
    name = Varchar(length=200)
    country = Varchar(length=2, default="CN")
    email = Varchar(length=254, default="")
    phone = Varchar(length=40, default="")
    language = Varchar(length=10, default="en")
    time_zone = Varchar(length=64, default="Asia/Shanghai")


class Carrier(Table):
    id: Serial  # Piccolo adds the primary key; declared so type checkers know it
    code = Varchar(length=40, unique=True, index=True)
    name = Varchar(length=200)
    transport_mode = Varchar(length=20, default="sea")
    email = Varchar(length=254, default="")
    phone = Varchar(length=40, default="")
    language = Varchar(length=10, default="en")
    time_zone = Varchar(length=64, default="Europe/Berlin")
    # Contract-specific notice windows in days, e.g. {"damage": 14}; they override the regime defaults.
    notice_windows = JSON(default="{}")


class Customer(Table):
    id: Serial  # Piccolo adds the primary key; declared so type checkers know it
    name = Varchar(length=200)
    email = Varchar(length=254, default="", index=True)
    phone = Varchar(length=40, default="")
    language = Varchar(length=10, default="zh")
    region = Varchar(length=60, default="")
    time_zone = Varchar(length=64, default="Asia/Shanghai")


class Product(Table):
    id: Serial  # Piccolo adds the primary key; declared so type checkers know it
    sku = Varchar(length=60, unique=True, index=True)
    name = Varchar(length=200)
    category = Varchar(length=60, default="", index=True)
    supplier = ForeignKey(Supplier, null=True, on_delete=OnDelete.restrict)


class PurchaseOrder(Table):
    id: Serial  # Piccolo adds the primary key; declared so type checkers know it
    number = Varchar(length=60, unique=True, index=True)
    supplier = ForeignKey(Supplier, null=False, on_delete=OnDelete.restrict)
    carrier = ForeignKey(Carrier, null=True, on_delete=OnDelete.restrict)
    incoterm = Varchar(length=3, default="FOB")
    transport_mode = Varchar(length=20, default="sea")
    region = Varchar(length=60, default="", index=True)
    ordered_on = Date(null=True, default=None)
    ship_by = Date(null=True, default=None)
    shipped_on = Date(null=True, default=None)
    delivered_on = Date(null=True, default=None, index=True)
    container_no = Varchar(length=20, default="")
    seal_no = Varchar(length=30, default="")
    tracking_no = Varchar(length=60, default="")
    currency = Varchar(length=3, default="USD")


class OrderLine(Table):
    id: Serial  # Piccolo adds the primary key; declared so type checkers know it
    # "<order number>#<line no>": the natural key that makes re-imports idempotent.
    line_key = Varchar(length=80, unique=True, index=True)
    purchase_order = ForeignKey(PurchaseOrder, null=False, on_delete=OnDelete.restrict)
    line_no = Integer()
    product = ForeignKey(Product, null=False, on_delete=OnDelete.restrict)
    quantity_ordered = Integer(default=0)
    quantity_delivered = Integer(default=0)
    unit_price = Numeric(digits=(14, 4), default=Decimal("0"))
