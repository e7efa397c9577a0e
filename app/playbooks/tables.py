"""A supplier's or carrier's playbook, and the handlers' saved answers."""

from piccolo.columns import JSON, Integer, Numeric, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class Playbook(Table):
    id: Serial  # Piccolo adds the primary key; declared so type checkers know it
    # "supplier" or "carrier", and the id of that record: one playbook per counterparty.
    party_kind = Varchar(length=20)
    party_id = Integer()
    # [{"problem_type": "" (any) or a type, "language": "" (any) or a code, "name": ..., "email": ...}]
    contacts = JSON(default="[]")
    # [{"key": an evidence name or "pb:<slug>", "label": the free item's words, "problem_types": [...]}]
    evidence = JSON(default="[]")
    window_days = Integer(null=True, default=None)
    window_from = Varchar(length=20, default="delivery")  # "delivery" or "discovery"
    window_counting = Varchar(length=20, default="calendar")  # "calendar" or "working"
    minimum_value = Numeric(digits=(14, 2), null=True, default=None)
    minimum_currency = Varchar(length=3, default="")
    remedies = JSON(default="[]")
    # Expected answer time in hours; it sets the clock of a stage this party holds.
    answer_hours = Integer(null=True, default=None)
    # Staff-only notes; never shown to the party.
    notes = Text(default="")
    updated_at = Timestamptz(default=TimestamptzNow())
    updated_by = Varchar(length=200, default="")


class SavedReply(Table):
    id: Serial  # Piccolo adds the primary key; declared so type checkers know it
    language = Varchar(length=10, default="en", index=True)
    title = Varchar(length=200)
    body = Text()
    created_by = Varchar(length=200, default="")
    created_at = Timestamptz(default=TimestamptzNow())
