"""Mail we sent about a case, mail that came in (the raw bytes kept by hash) and addresses that bounce."""

from piccolo.columns import ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.accounts.tables import User
from app.cases.tables import Case, Message


class SentMail(Table):
    """One case mail as sent: a reply's In-Reply-To/References find the case and party through it."""

    id: Serial  # Piccolo adds the primary key; declared so type checkers know it
    message_id = Varchar(length=255, unique=True)
    case = ForeignKey(Case, null=False, on_delete=OnDelete.restrict)
    party = Varchar(length=20)
    recipient = Varchar(length=254, default="")
    sent_at = Timestamptz(default=TimestamptzNow())


class InboundMail(Table):
    """Every mail read from the mailbox, once (unique Message-ID), with the original kept in the evidence store."""

    id: Serial  # Piccolo adds the primary key; declared so type checkers know it
    message_id = Varchar(length=255, unique=True)
    raw_key = Varchar(length=200, default="")
    raw_sha256 = Varchar(length=64, default="", index=True)
    size = Integer(default=0)
    sender = Varchar(length=254, default="")
    subject = Varchar(length=300, default="")
    received_at = Timestamptz(default=TimestamptzNow(), index=True)
    # posted, quarantined, auto_reply, bounce, rejected
    status = Varchar(length=20, default="quarantined", index=True)
    # Why it is quarantined: unknown_sender, forged_tag, unattributable, malformed, sender_not_verified
    reason = Varchar(length=40, default="")
    # The receiving server's SPF/DKIM/DMARC verdicts, e.g. "spf=pass dkim=fail dmarc=fail"; "" without any.
    authentication = Varchar(length=200, default="")
    text = Text(default="")
    case = ForeignKey(Case, null=True, on_delete=OnDelete.restrict)
    party = Varchar(length=20, default="")
    message = ForeignKey(Message, null=True, on_delete=OnDelete.set_null)
    decided_by = ForeignKey(User, null=True, on_delete=OnDelete.set_null)
    decided_at = Timestamptz(null=True, default=None)


class FailingAddress(Table):
    """A party address our mail bounced from: staff see it until mail to it works again."""

    id: Serial  # Piccolo adds the primary key; declared so type checkers know it
    address = Varchar(length=254, unique=True)
    case = ForeignKey(Case, null=True, on_delete=OnDelete.set_null)
    party = Varchar(length=20, default="")
    reason = Text(default="")
    bounces = Integer(default=1)
    failed_at = Timestamptz(default=TimestamptzNow())
