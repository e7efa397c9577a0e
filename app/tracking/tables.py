"""Node deadlines, reminder claims, push subscriptions and in-app notifications."""

from piccolo.columns import JSON, ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.accounts.tables import User
from app.cases.tables import Case


class StageDeadline(Table):
    id: Serial  # Piccolo adds the primary key; declared so type checkers know it
    case = ForeignKey(Case, null=False, on_delete=OnDelete.restrict)
    node = Varchar(length=20, index=True)
    owner_party = Varchar(length=20, default="us")
    started_at = Timestamptz(default=TimestamptzNow())
    due_at = Timestamptz(index=True)
    finished_at = Timestamptz(null=True, default=None, index=True)
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


class PushSubscription(Table):
    id: Serial  # Piccolo adds the primary key; declared so type checkers know it
    user = ForeignKey(User, null=False, on_delete=OnDelete.cascade)
    endpoint = Varchar(length=1000, unique=True)
    keys = JSON(default="{}")
    created_at = Timestamptz(default=TimestamptzNow())


class Notification(Table):
    id: Serial  # Piccolo adds the primary key; declared so type checkers know it
    user = ForeignKey(User, null=False, on_delete=OnDelete.cascade)
    case = ForeignKey(Case, null=True, on_delete=OnDelete.cascade)
    text = Text()
    created_at = Timestamptz(default=TimestamptzNow(), index=True)
    read_at = Timestamptz(null=True, default=None)
