"""The after-sales case, its append-only timeline, its messages and the number counter."""

from piccolo.columns import (
    JSON,
    Boolean,
    ForeignKey,
    Integer,
    Numeric,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.accounts.tables import User
from app.trade.tables import Carrier, Customer, OrderLine, Product, PurchaseOrder, Supplier


class Case(Table, tablename="after_sales_case"):
    id: Serial  # Piccolo adds the primary key; declared so type checkers know it
    number = Varchar(length=20, unique=True, index=True)
    # The reporting device's UUID and a digest of what it sent: the same key twice is one case.
    client_key = Varchar(length=64, null=True, default=None, unique=True)
    client_digest = Varchar(length=64, default="")
    order_number = Varchar(length=60, default="", index=True)
    purchase_order = ForeignKey(PurchaseOrder, null=True, on_delete=OnDelete.restrict)
    order_line = ForeignKey(OrderLine, null=True, on_delete=OnDelete.restrict)
    product = ForeignKey(Product, null=True, on_delete=OnDelete.restrict)
    supplier = ForeignKey(Supplier, null=True, on_delete=OnDelete.restrict)
    carrier = ForeignKey(Carrier, null=True, on_delete=OnDelete.restrict)
    customer = ForeignKey(Customer, null=True, on_delete=OnDelete.restrict)
    quantity_affected = Integer(default=1)
    problem_type = Varchar(length=30, index=True)
    description = Text(default="")
    region = Varchar(length=60, default="", index=True)
    urgency = Varchar(length=10, default="normal")
    # The handling time the reporter expects (often the customer's expectation), in days.
    expected_days = Integer(null=True, default=None)
    node = Varchar(length=20, default="reported", index=True)
    node_before_dispute = Varchar(length=20, default="")
    node_entered_at = Timestamptz(default=TimestamptzNow())
    assignee = ForeignKey(User, null=True, on_delete=OnDelete.set_null)
    reported_by = ForeignKey(User, null=True, on_delete=OnDelete.set_null)
    # Responsibility facts as the rules engine reads them, and its last hint.
    facts = JSON(default="{}")
    hint = JSON(default="{}")
    suggested_party = Varchar(length=20, default="")
    confirmed_party = Varchar(length=20, default="")
    confirmed_reason = Text(default="")
    remedy = Varchar(length=20, default="")
    claim_amount = Numeric(digits=(14, 2), null=True, default=None)
    currency = Varchar(length=3, default="CNY")
    cancel_reason = Text(default="")
    root_cause = Varchar(length=30, default="")
    created_at = Timestamptz(default=TimestamptzNow(), index=True)
    updated_at = Timestamptz(default=TimestamptzNow())
    closed_at = Timestamptz(null=True, default=None)


class CaseEvent(Table):
    id: Serial  # Piccolo adds the primary key; declared so type checkers know it
    case = ForeignKey(Case, null=False, on_delete=OnDelete.restrict)
    at = Timestamptz(default=TimestamptzNow(), index=True)
    actor_kind = Varchar(length=20, default="user")
    actor_id = Varchar(length=40, default="")
    actor_label = Varchar(length=200, default="")
    kind = Varchar(length=40, index=True)
    data = JSON(default="{}")
    # Hash chain per case: each event carries its predecessor's hash, so tampering shows.
    prev_hash = Varchar(length=64, default="")
    hash = Varchar(length=64, default="")


class CaseNumberCounter(Table):
    id: Serial  # Piccolo adds the primary key; declared so type checkers know it
    year = Integer(unique=True)
    last = Integer(default=0)


class Message(Table):
    id: Serial  # Piccolo adds the primary key; declared so type checkers know it
    case = ForeignKey(Case, null=False, on_delete=OnDelete.restrict)
    party = Varchar(length=20)
    author_kind = Varchar(length=20, default="user")
    author_label = Varchar(length=200, default="")
    body = Text()
    via = Varchar(length=10, default="web")
    internal = Boolean(default=False)
    external_id = Varchar(length=255, null=True, default=None, unique=True)
    created_at = Timestamptz(default=TimestamptzNow(), index=True)
    # A mail whose sender the receiving server could not verify: its SPF/DKIM/DMARC verdicts, shown as a warning.
    sender_check = Varchar(length=200, default="")


class SavedView(Table):
    """A grid view a user named and kept: its query string (columns, filters, sort, search)."""

    id: Serial  # Piccolo adds the primary key; declared so type checkers know it
    user = ForeignKey(User, null=False, on_delete=OnDelete.cascade)
    name = Varchar(length=80)
    params = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())
