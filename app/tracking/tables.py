"""Node deadlines and reminder claims."""

from piccolo.columns import ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.cases.tables import Case


class StageDeadline(Table):
    id: Serial  # Piccolo adds the primary key; declared so type checkers know it
    case = ForeignKey(Case, null=False, on_delete=OnDelete.restrict)
    node = Varchar(length=20, index=True)
    owner_party = Varchar(length=20, default="us")
    started_at = Timestamptz(default=TimestamptzNow())
    due_at = Timestamptz(index=True)
    # Indexed for finished clocks only (WHERE finished_at IS NOT NULL): see migration 2026-12-08T03:00:00.
    finished_at = Timestamptz(null=True, default=None)
    paused_seconds = Integer(default=0)
    policy = Varchar(length=60, default="")
    # When the sweep next has to look at this clock (the next escalation step); NULL once all have gone.
    next_check_at = Timestamptz(null=True, default=None, index=True)


class Reminder(Table):
    id: Serial  # Piccolo adds the primary key; declared so type checkers know it
    # "<case id>:<node>:<level>:<channel>:<recipient>": a unique claim, so each step goes once.
    claim_key = Varchar(length=255, unique=True)
    case = ForeignKey(Case, null=False, on_delete=OnDelete.restrict)
    node = Varchar(length=20)
    level = Varchar(length=10)
    channel = Varchar(length=10)
    recipient = Varchar(length=254)
    status = Varchar(length=10, default="claimed", index=True)
    attempts = Integer(default=0)
    error = Text(default="")
    claimed_at = Timestamptz(default=TimestamptzNow())
    sent_at = Timestamptz(null=True, default=None)
