"""What a reminder says, in its reader's language and on their clock: texts, staff mails, customer updates."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app import db
from app.accounts.tables import User
from app.cases.tables import Case
from app.collaboration import links
from app.i18n import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    company_zone,
    current_language,
    format_moment,
    label,
    zone_label,
    zone_or_default,
)
from app.i18n import gettext as _
from app.notify.email import Mail
from app.reminders import plan_answers
from app.reminders.batches import as_datetime, select_in
from app.settings import Settings
from app.tracking.tables import StageDeadline
from app.trade.tables import Customer

TRACKING_LINK_DAYS = 120


# Claims written to the customer (a stage update, a plan to answer): their mail carries a tracking link.
CUSTOMER_LEVELS = frozenset({"update", plan_answers.LEVEL})


@dataclass(frozen=True)
class Reader:
    """Who a reminder is for: the language and zone it is written in; a party also sees our time."""

    language: str
    zone: str
    party: bool = False


@dataclass
class Messages:
    """The case numbers, due times and readers the messages need, loaded once per batch."""

    numbers: dict[int, str]
    customers: dict[int, int | None]
    due: dict[tuple[int, str], datetime]
    # (case id, address) of the case's supplier and carrier: their reminders carry the reply address.
    partners: dict[tuple[int, str], str]
    # (case id, recipient) of parties by email or phone, and staff by email or "user:<id>" (any case: 0).
    readers: dict[tuple[int, str], Reader]

    @classmethod
    async def load(cls, reminders: list[dict[str, Any]]) -> Messages:
        case_ids = {r["case"] for r in reminders}
        party_columns = [
            column
            for party in (Case.supplier, Case.carrier)
            for column in (
                party.email.as_alias(f"{party._meta.name}_email"),
                party.phone.as_alias(f"{party._meta.name}_phone"),
                party.language.as_alias(f"{party._meta.name}_language"),
                party.time_zone.as_alias(f"{party._meta.name}_time_zone"),
            )
        ]
        cases = await select_in(
            lambda: Case.select(Case.id, Case.number, Case.customer, *party_columns), Case.id, case_ids
        )
        deadlines = await select_in(
            lambda: StageDeadline.select(StageDeadline.case, StageDeadline.node, StageDeadline.due_at).order_by(
                StageDeadline.id
            ),
            StageDeadline.case,
            case_ids,
        )
        readers: dict[tuple[int, str], Reader] = {}
        for c in cases:
            for party in ("supplier", "carrier"):
                reader = Reader(c[f"{party}_language"] or DEFAULT_LANGUAGE, c[f"{party}_time_zone"] or "", True)
                for address in (c[f"{party}_email"], c[f"{party}_phone"]):
                    if address:
                        readers[(c["id"], str(address).lower())] = reader
        # Staff are few (a company's handlers and managers): one read of all of them.
        staff = await User.select(User.id, User.email, User.language, User.time_zone)
        for user in staff:
            reader = Reader(user["language"] or DEFAULT_LANGUAGE, user["time_zone"] or "")
            readers[(0, f"user:{user['id']}")] = readers[(0, str(user["email"]).lower())] = reader
        return cls(
            numbers={c["id"]: c["number"] for c in cases},
            customers={c["id"]: c["customer"] for c in cases},
            due={(d["case"], d["node"]): as_datetime(d["due_at"]) for d in deadlines},
            partners={
                (c["id"], str(c[f"{party}_email"]).lower()): party
                for c in cases
                for party in ("supplier", "carrier")
                if c[f"{party}_email"]
            },
            readers=readers,
        )

    def reader(self, reminder: dict[str, Any]) -> Reader:
        recipient = reminder["recipient"].lower()
        found = self.readers.get((reminder["case"], recipient)) or self.readers.get((0, recipient))
        return found or Reader(DEFAULT_LANGUAGE, "")

    def text(self, reminder: dict[str, Any]) -> str:
        """The reminder in its reader's language, the due time on their clock (a party's with ours beside it)."""
        number = self.numbers.get(reminder["case"], "?")
        due = self.due.get((reminder["case"], reminder["node"]))
        reader = self.reader(reminder)
        marker = current_language.set(reader.language if reader.language in LANGUAGES else DEFAULT_LANGUAGE)
        try:
            due_text = _on_clock(due, reader.zone) if due else "?"
            if due and reader.party and zone_or_default(reader.zone) != zone_or_default(company_zone()):
                due_text = _("%(theirs)s (ours: %(ours)s)", theirs=due_text, ours=_on_clock(due, company_zone()))
            node = label(reminder["node"], "node")
            level = reminder["level"]
            if level.isdigit() and int(level) >= 100:
                return _(
                    "Case %(number)s is overdue at %(node)s: it was due %(due)s.",
                    number=number,
                    node=node,
                    due=due_text,
                )
            return _("Case %(number)s at %(node)s is due %(due)s.", number=number, node=node, due=due_text)
        finally:
            current_language.reset(marker)

    async def mail(
        self, settings: Settings, reminder: dict[str, Any], now: datetime
    ) -> tuple[Mail, int, str, str | None]:
        """The reminder's mail, with its case and the party whose thread it joins (None: staff, no thread)."""
        number = self.numbers.get(reminder["case"], "?")
        if reminder["level"] in CUSTOMER_LEVELS:
            return await self._customer_update(settings, reminder, number, now)
        text = self.text(reminder)
        link = f"{settings.base_url}/cases/{number}"
        mail = Mail(
            to=[reminder["recipient"]],
            subject=f"[{number}] {text}",
            text=f"{text}\n\n{link}\n",
            html=f'<p>{_escape(text)}</p><p><a href="{_escape(link)}">{_escape(number)}</a></p>',
            headers={"X-Crossclaim-Claim": str(reminder["id"])},
        )
        # Staff (no party): their answers belong in Crossclaim, not in the support mailbox.
        party = self.partners.get((reminder["case"], reminder["recipient"].lower()))
        return mail, reminder["case"], number, party

    async def _customer_update(
        self, settings: Settings, reminder: dict[str, Any], number: str, now: datetime
    ) -> tuple[Mail, int, str, str | None]:
        text, follow, link = await self.customer_message(settings, reminder, now)
        mail = Mail(
            to=[reminder["recipient"]],
            subject=f"[{number}] {text}",
            text=f"{text}\n{follow} {link}\n",
            html=f'<p>{_escape(text)}</p><p>{_escape(follow)} <a href="{_escape(link)}">{_escape(link)}</a></p>',
        )
        return mail, reminder["case"], number, "customer"

    async def customer_message(
        self, settings: Settings, reminder: dict[str, Any], now: datetime
    ) -> tuple[str, str, str]:
        """The update in the customer's language, and a fresh tracking link of their own (hash stored only)."""
        number = self.numbers.get(reminder["case"], "?")
        customer_id = self.customers.get(reminder["case"])
        row = (
            await Customer.select(Customer.language).where(Customer.id == customer_id).first() if customer_id else None
        )
        language = row["language"] if row else "en"
        async with db.atomic():
            _link, token = await links.issue_link(
                case_id=reminder["case"],
                party="customer",
                email=reminder["recipient"] if reminder["channel"] == "email" else "",
                language=language,
                now=now,
                days=TRACKING_LINK_DAYS,
            )
        link = f"{settings.base_url}/t/{token}"
        marker = current_language.set(language)
        try:
            if reminder["level"] == plan_answers.LEVEL:
                text = _("Your after-sales case %(number)s: please confirm or decline the agreed plan.", number=number)
                follow = _("See the plan and answer here:")
            else:
                text = _(
                    "Your after-sales case %(number)s has moved on: %(node)s.",
                    number=number,
                    node=label(reminder["node"], "node"),
                )
                follow = _("Follow its progress here:")
        finally:
            current_language.reset(marker)
        return text, follow, link


def _on_clock(moment: datetime, zone: str) -> str:
    """A moment on one zone's wall clock, named: "3 Dec 2026, 10:00 Central European Standard Time"."""
    return _clock_text(moment, zone, current_language.get())


@functools.lru_cache(maxsize=4096)  # a sweep's reminders share due times and zones: Babel formats each once
def _clock_text(moment: datetime, zone: str, language: str) -> str:
    return f"{format_moment(moment, zone)} {zone_label(moment, zone)}"


def _escape(value: str) -> str:
    from markupsafe import escape

    return str(escape(value))
