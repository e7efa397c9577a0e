"""Magic links, plan rounds and disputes between us and the other parties of a case."""

from piccolo.columns import ForeignKey, Integer, Numeric, Serial, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.accounts.tables import User
from app.cases.tables import Case


class AccessLink(Table):
    id: Serial  # Piccolo adds the primary key; declared so type checkers know it
    token_hash = Varchar(length=64, unique=True, index=True)
    case = ForeignKey(Case, null=False, on_delete=OnDelete.restrict)
    party = Varchar(length=20)
    email = Varchar(length=254, default="")
    language = Varchar(length=10, default="en")
    created_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)
    last_used_at = Timestamptz(null=True, default=None)


class PlanProposal(Table):
    id: Serial  # Piccolo adds the primary key; declared so type checkers know it
    case = ForeignKey(Case, null=False, on_delete=OnDelete.restrict)
    round = Integer(default=1)
    proposed_by = Varchar(length=20)
    # The counterparty this round is between us and: the proposer if a party, the addressee if ours.
    party = Varchar(length=20, default="")
    remedy = Varchar(length=20)
    amount = Numeric(digits=(14, 2), null=True, default=None)
    currency = Varchar(length=3, default="CNY")
    details = Text(default="")
    status = Varchar(length=20, default="open")
    created_at = Timestamptz(default=TimestamptzNow())


class Dispute(Table):
    id: Serial  # Piccolo adds the primary key; declared so type checkers know it
    case = ForeignKey(Case, null=False, on_delete=OnDelete.restrict)
    opened_by = Varchar(length=20)
    from_node = Varchar(length=20)
    reason = Text()
    opened_at = Timestamptz(default=TimestamptzNow())
    decision = Varchar(length=20, default="")
    rationale = Text(default="")
    decided_by = ForeignKey(User, null=True, on_delete=OnDelete.set_null)
    decided_at = Timestamptz(null=True, default=None)
