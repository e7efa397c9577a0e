"""Corrective actions with their measured effect and the cases they answer, and money claimed and recovered per case."""

from decimal import Decimal

from piccolo.columns import Date, Float, ForeignKey, Numeric, Serial, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.accounts.tables import User
from app.cases.tables import Case
from app.trade.tables import Carrier, Product, Supplier


class CorrectiveAction(Table):
    id: Serial  # Piccolo adds the primary key; declared so type checkers know it
    supplier = ForeignKey(Supplier, null=True, on_delete=OnDelete.restrict)
    product = ForeignKey(Product, null=True, on_delete=OnDelete.restrict)
    carrier = ForeignKey(Carrier, null=True, on_delete=OnDelete.restrict)
    root_cause = Varchar(length=30)
    action = Text()
    owner = ForeignKey(User, null=True, on_delete=OnDelete.set_null)
    due_on = Date(null=True, default=None)
    status = Varchar(length=20, default="open")
    started_on = Date(null=True, default=None)
    baseline_rate = Float(null=True, default=None)
    check_after_days = Float(default=90)
    effect_rate = Float(null=True, default=None)
    verdict = Varchar(length=20, default="pending")
    created_at = Timestamptz(default=TimestamptzNow())


class CorrectiveActionCase(Table):
    """A case whose root cause the action answers; (action, case) is unique (migration 2026-12-07T19:23:03)."""

    id: Serial  # Piccolo adds the primary key; declared so type checkers know it
    action = ForeignKey(CorrectiveAction, null=False, on_delete=OnDelete.cascade)
    case = ForeignKey(Case, null=False, on_delete=OnDelete.restrict)
    linked_at = Timestamptz(default=TimestamptzNow())


class Recovery(Table):
    id: Serial  # Piccolo adds the primary key; declared so type checkers know it
    case = ForeignKey(Case, null=False, on_delete=OnDelete.restrict)
    party = Varchar(length=20)
    kind = Varchar(length=20, default="refund")
    claimed_amount = Numeric(digits=(14, 2), default=Decimal("0"))
    recovered_amount = Numeric(digits=(14, 2), default=Decimal("0"))
    currency = Varchar(length=3, default="CNY")
    claimed_on = Date(null=True, default=None)
    recovered_on = Date(null=True, default=None)
