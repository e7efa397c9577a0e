"""Where notices go: push subscriptions and in-app notifications."""

from piccolo.columns import JSON, ForeignKey, Serial, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.accounts.tables import User
from app.cases.tables import Case


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
