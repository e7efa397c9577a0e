"""Staff users, their browser sessions and their API tokens."""

from piccolo.columns import Boolean, ForeignKey, Serial, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class User(Table, tablename="app_user"):
    id: Serial  # Piccolo adds the primary key; declared so type checkers know it
    email = Varchar(length=254, unique=True, index=True)
    name = Varchar(length=120)
    role = Varchar(length=20)
    password_hash = Varchar(length=255)
    language = Varchar(length=10, default="en")
    time_zone = Varchar(length=64, default="Asia/Shanghai")
    active = Boolean(default=True)
    created_at = Timestamptz(default=TimestamptzNow())


class StaffSession(Table):
    id: Serial  # Piccolo adds the primary key; declared so type checkers know it
    token_hash = Varchar(length=64, unique=True, index=True)
    user = ForeignKey(User, null=False, on_delete=OnDelete.cascade)
    created_at = Timestamptz(default=TimestamptzNow())
    last_seen_at = Timestamptz(default=TimestamptzNow())
    ip = Varchar(length=64, default="")
    user_agent = Varchar(length=200, default="")  # the device, as its browser names itself
    kept = Boolean(default=False)  # its cookie outlives the browser (until the absolute limit)


class ApiToken(Table):
    id: Serial  # Piccolo adds the primary key; declared so type checkers know it
    token_hash = Varchar(length=64, unique=True, index=True)
    user = ForeignKey(User, null=False, on_delete=OnDelete.cascade)
    name = Varchar(length=120, default="")
    created_at = Timestamptz(default=TimestamptzNow())
    last_used_at = Timestamptz(null=True, default=None)
    revoked = Boolean(default=False)
